"""What a specification's run produces: typed results, free of the estimation machinery.

:func:`nhanes_mg.study.analyses.run_spec` makes them; the report, the figures, the CLI and the
results store read them. This module imports nothing heavy, so that reading stored results (a
run with nothing changed) does not load the survey engine.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from nhanes_mg.study import verdicts
from nhanes_mg.study.spec_types import Spec
from nhanes_mg.study.words import column_words

if TYPE_CHECKING:
    from nhanes_mg.usual_intake.estimate import UsualIntakeResult

RATIO_SCALES = ("odds ratio", "hazard ratio")
CONTRAST_RATIO_SCALES = ("ratio of odds ratios", "ratio of hazard ratios")
# a `contrast`'s rows (nhanes_mg.study.contrasts) and the scales of its differences
DIFFERENCE_ROLE, TEST_ROLE = "group difference", "group test"
DIFFERENCE_SCALES = {
    "mean": "difference of means",
    "proportion": "difference of proportions",
    "ratio": "difference of ratios",
}


OVERALL = "Overall"  # Table 1's group of the whole domain, beside the exposure categories


# what the survival curves are (svykm with se = True), in words: captions, report, tables
SURVIVAL_ESTIMATOR = (
    "the exponentiated Nelson–Aalen (Breslow) estimator, as R's svykm(se = TRUE), not the "
    "product-limit (Kaplan–Meier) one"
)


@dataclass(frozen=True)
class FitInfo:
    """What was fitted for one analysis: cycles, sample, weight — as the report states it."""

    analysis: str
    sensitivity: str | None
    label: str
    description: str
    cycles: tuple[str, ...] = ()
    dropped: tuple[tuple[str, str], ...] = ()  # (cycle, why it is not in the fit)
    n: int = 0  # unweighted participants in the domain (complete cases for models)
    events: int | None = None
    weight: str = ""
    weight_reason: str = ""
    strata: tuple[str, str] | None = None  # (modifier holds, complement) labels
    cuts: tuple[float, ...] = ()
    error: str | None = None
    incomplete: tuple[str, ...] = ()  # missing tables it was estimated without (on request)
    missing_data: bool = False  # not estimated because a table it needs is missing
    outcome_share: float | None = None  # weighted share with the outcome (binary outcomes)
    outside_cycles: bool = False  # not estimated: none of its cycles was built (--cycles)
    imputed: tuple[tuple[str, int], ...] = ()  # (variable, values imputed): missing = impute
    imputed_rows: int = 0  # participants with at least one imputed value
    imputations: int = 0  # m
    missing_information: float | None = None  # the largest among the exposure's rows

    @property
    def imputed_text(self) -> str:
        """Who was imputed, in words (empty for a complete-case analysis)."""
        if not self.imputations:
            return ""
        values = "; ".join(f"{column_words(v)} {n:,}" for v, n in self.imputed)
        values = values or "no value missing"
        fmi = (
            f"; fraction of missing information ≤ {self.missing_information:.0%}"
            if self.missing_information is not None
            else ""
        )
        return (
            f"{self.imputed_rows:,} participants with imputed values ({values}; "
            f"m = {self.imputations}{fmi})"
        )

    @property
    def failed(self) -> bool:
        """Not estimated for a reason of its own (not a missing table, not --cycles)."""
        return bool(self.error) and not self.missing_data and not self.outside_cycles


@dataclass(frozen=True)
class VariantVerdict:
    """One row of a statement's specification curve: an analysis or sensitivity analysis,
    the row it judges, its own comparator, our estimate and the verdict the rule gives it."""

    sensitivity: str | None
    label: str
    verdict: str
    why: str
    ours: str
    estimate: float = math.nan
    conf_low: float = math.nan
    conf_high: float = math.nan
    analysis: str = ""
    row: str = ""  # the row judged: "Q4", "usual intake, 2005-2006"
    n: int | None = None
    comparator: str = ""  # the source's words for this row, or why nothing compares
    published: float | None = None
    published_low: float | None = None
    published_high: float | None = None
    scale: str = ""
    outcome: str = ""  # the outcome's words, with its unit ("25(OH)D, nmol/L")
    note: str = ""  # e.g. whether a published P for interaction is reproduced
    direction: str = ""  # the side of no effect (or the threshold) the claim states here
    unmatched: bool = False  # not estimated because no row of the analysis matched the rule
    side: int = 0  # its CI wholly on the claimed side of the null (1), the other (-1), or across
    term: str = ""  # the contrast its comparator selects ("Q4", "… per 100 mg/day", or "")

    @property
    def supports(self) -> bool:
        """Its CI excludes no effect (or the threshold) on the claimed side — whatever the
        verdict (a modification contrast can, while its stratum effect does not)."""
        return self.side > 0

    @property
    def excludes_claimed_size(self) -> bool:
        """Its CI excludes every effect of the claimed size (or lies on the other side)."""
        return self.verdict in (verdicts.NO_EFFECT_OF_SIZE, verdicts.CONTRADICTED)


@dataclass
class Verdict:
    """One statement's verdict: the main analysis's, with its specification curve."""

    verdict: str
    why: str
    ours: str
    published: str
    row: str = ""  # which estimate: "deficiency_adjusted, Q4"
    main: VariantVerdict | None = None  # the main analysis's row of the curve
    curve: list[VariantVerdict] = field(default_factory=list)  # every row, the main first
    null: float | None = None
    ratio_scale: bool = False
    statement: str = ""  # the statement's name ("" when the claim has one)
    text: str = ""  # what the statement says
    secondary: bool = False
    limits: str = ""
    percent: bool = False  # estimates are shares (shown as %)
    kind: str = "effect"  # the rule: threshold | effect | modification
    smallest: float | None = None  # the smallest effect of interest, when the rule has one

    def _show(self, x: float) -> str:
        if self.percent:
            return f"{100 * x:.1f}%"
        return f"{x:.2f}".replace("-", "−") if abs(x) < 100 else f"{x:.0f}".replace("-", "−")

    @property
    def null_words(self) -> str:
        """What the claimed side is measured from: the threshold, or no effect."""
        if self.kind == "threshold" and self.null is not None:
            return f"{100 * self.null:g}%" if self.percent else f"{self.null:g}"
        return "no difference between the strata" if self.kind == "modification" else "no effect"

    @property
    def summary(self) -> str:
        """The curve in words: ``estimates 0.51–0.75 across 6 analyses; 4 exclude no effect on
        the claimed side`` (empty for a curve of one row)."""
        if len(self.curve) < 2:
            return ""
        finite = [c for c in self.curve if math.isfinite(c.estimate)]
        missing = len(self.curve) - len(finite)
        if not finite:
            return f"none of {len(self.curve)} analyses estimated"
        # the range of the estimates of the main row's contrast on its scale (a quartile odds
        # ratio is not on one axis with an odds ratio per 100 mg/day)
        main = self.main
        same = [
            c for c in finite if main is None or (c.scale, c.term) == (main.scale, main.term)
        ] or finite
        lo, hi = min(c.estimate for c in same), max(c.estimate for c in same)
        span = self._show(lo) if lo == hi else f"{self._show(lo)} to {self._show(hi)}"
        elsewhere = len(finite) - len(same)
        supporting = sum(c.supports for c in finite)
        words = [
            f"estimates {span} across {len(same)} analyses"
            + (f" (and {elsewhere} of another contrast or scale)" if elsewhere else ""),
            f"{supporting} {'excludes' if supporting == 1 else 'exclude'} {self.null_words} "
            "on the claimed side",
        ]
        against = sum(c.side < 0 for c in finite)
        if against:
            words[-1] += f", {against} on the other side"
        if missing:
            words.append(f"{missing} not estimated")
        return "; ".join(words)

    @property
    def caution(self) -> str:
        """Said beside the verdict: when it rests on a minority of its own analyses, when most
        analyses support the claim and the main one does not, and each published P for
        interaction that our estimate does not reproduce (else empty)."""
        words = [
            f"{c.label}: {c.note}"
            for c in self.curve
            if " not reproduced" in c.note and not c.sensitivity  # the analyses' own P
        ]
        finite = [c for c in self.curve if math.isfinite(c.estimate)]
        if len(finite) >= 2 and self.main is not None:
            k, s = len(finite), sum(c.supports for c in finite)
            # what the main verdict reads from its CI, and how many analyses read the same
            reading: tuple[int, str] | None = None
            if self.main.supports:
                reading = s, f"{self.null_words} on the claimed side"
            elif self.main.side < 0:
                reading = sum(c.side < 0 for c in finite), f"{self.null_words} on the other side"
            elif self.main.verdict == verdicts.NO_EFFECT_OF_SIZE:
                same = sum(c.excludes_claimed_size for c in finite)
                reading = same, "every effect of the claimed size"
            if reading is not None and 2 * reading[0] < k:
                words.insert(
                    0,
                    f"this verdict rests on a minority of its analyses: {reading[0]} of {k} "
                    f"exclude {reading[1]}",
                )
            elif not self.main.supports and 2 * s > k:
                words.insert(
                    0,
                    f"most of its analyses ({s} of {k}) exclude {self.null_words} on the "
                    "claimed side; the main one does not",
                )
        return "; ".join(words)


@dataclass
class SpecResult:
    """One specification's results: tidy table, what was fitted, notes and the verdict."""

    spec: Spec
    table: pl.DataFrame
    fits: list[FitInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)  # e.g. large complete-case losses
    verdicts: list[Verdict] = field(default_factory=list)  # one per judged statement
    error: str | None = None
    # the usual-intake estimations shared by the analyses (cleared after a run)
    usual_cache: dict[tuple[object, ...], UsualIntakeResult] = field(
        default_factory=dict, repr=False
    )
    # who was analysed, per model analysis (columns analysis, sensitivity, then those of
    # nhanes_mg.study.flow.FLOW_SCHEMA / MISSING_SCHEMA); empty without model analyses
    flow: pl.DataFrame = field(default_factory=pl.DataFrame)
    missingness: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Table 1 of each main model analysis (nhanes_mg.study.table1.TABLE1_SCHEMA + analysis, …)
    table1: pl.DataFrame = field(default_factory=pl.DataFrame)
    margins: pl.DataFrame = field(default_factory=pl.DataFrame)  # predictive margins
    survival: pl.DataFrame = field(default_factory=pl.DataFrame)  # survey KM curves (Cox)
    dose_response: pl.DataFrame = field(default_factory=pl.DataFrame)  # spline curves
    # every term of each main model (nhanes_mg.study.regression_table.REGRESSION_SCHEMA + analysis)
    regression: pl.DataFrame = field(default_factory=pl.DataFrame)
    # wall seconds of each analysis as run here (``nhanes-mg run --profile``); not stored
    seconds: dict[str, float] = field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> Verdict | None:
        """The claim's primary verdict (its first statement's), or None without a rule."""
        return self.verdicts[0] if self.verdicts else None

    @property
    def incomplete(self) -> list[str]:
        """Missing or damaged tables behind this claim, one line per table set: not estimated
        for them, or (when asked to) estimated without them."""
        lines: dict[str, int] = {}
        for f in self.fits:
            if f.error and f.missing_data:
                text = f"not estimated: {f.error}"
            elif f.incomplete:
                text = f"estimated without {', '.join(f.incomplete)} (--allow-incomplete)"
            else:
                continue
            lines[text] = lines.get(text, 0) + 1
        return [f"{text} ({n} analyses)" if n > 1 else text for text, n in lines.items()]

    def shown_analysis(self, table: pl.DataFrame) -> str:
        """The analysis whose rows of ``table`` (a per-analysis output: flow, Table 1,
        margins, curves) the report and figures show: the verdict's, else the first."""
        names = table["analysis"].unique(maintain_order=True).to_list()
        wanted = self.spec.verdict.analysis if self.spec.verdict else names[0]
        return str(wanted if wanted in names else names[0])

    def fit(self, analysis: str, sensitivity: str | None = None) -> FitInfo | None:
        return next(
            (f for f in self.fits if f.analysis == analysis and f.sensitivity == sensitivity), None
        )


# ------------------------------------------------------------------ stored as data (store.py)

RESULT_FRAMES = (
    "table",
    "flow",
    "missingness",
    "table1",
    "margins",
    "survival",
    "dose_response",
    "regression",
)
_FIT_TUPLES = ("cycles", "cuts", "incomplete")


def result_document(result: SpecResult) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
    """A result as JSON-able data and named frames, for the results store (no pickles).

    :func:`result_from_document` makes it back, given the specification it came from.
    """
    data = {
        "fits": [dataclasses.asdict(f) for f in result.fits],
        "notes": list(result.notes),
        "cautions": list(result.cautions),
        "error": result.error,
        "verdicts": [
            {
                **{k: v for k, v in dataclasses.asdict(v).items() if k not in ("main", "curve")},
                "curve": [dataclasses.asdict(c) for c in v.curve],
                "main": next((i for i, c in enumerate(v.curve) if c is v.main), None),
            }
            for v in result.verdicts
        ],
    }
    frames = {n: getattr(result, n) for n in RESULT_FRAMES if getattr(result, n).width}
    return data, frames


def result_from_document(
    spec: Spec, data: dict[str, Any], frames: dict[str, pl.DataFrame]
) -> SpecResult:
    """The :class:`SpecResult` that :func:`result_document` stored (raises on any field that
    is not what the record holds: a damaged entry is then recomputed)."""
    fits = []
    for f in data["fits"]:
        f = dict(f)
        for name in _FIT_TUPLES:
            f[name] = tuple(f[name])
        f["dropped"] = tuple((str(c), str(why)) for c, why in f["dropped"])
        f["strata"] = tuple(f["strata"]) if f["strata"] is not None else None
        f["imputed"] = tuple((str(v), int(n)) for v, n in f.get("imputed", ()))
        fits.append(FitInfo(**f))
    verdicts_out = []
    for v in data["verdicts"]:
        v = dict(v)
        curve = [VariantVerdict(**c) for c in v.pop("curve")]
        main = v.pop("main")
        verdicts_out.append(
            Verdict(**v, curve=curve, main=curve[main] if main is not None else None)
        )
    result = SpecResult(
        spec=spec,
        table=frames.get("table", pl.DataFrame()),
        fits=fits,
        notes=[str(n) for n in data["notes"]],
        cautions=[str(c) for c in data["cautions"]],
        verdicts=verdicts_out,
        error=data["error"],
    )
    for name in RESULT_FRAMES[1:]:
        if name in frames:
            setattr(result, name, frames[name])
    return result
