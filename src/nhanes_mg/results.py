"""What a specification's run produces: typed results, free of the estimation machinery.

:func:`nhanes_mg.analyses.run_spec` makes them; the report, the figures, the CLI and the results
store read them. This module imports nothing heavy, so that reading stored results (a run with
nothing changed) does not load the survey engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import polars as pl

from nhanes_mg import verdicts
from nhanes_mg.spec import Spec

RATIO_SCALES = ("odds ratio", "hazard ratio")


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


@dataclass(frozen=True)
class VariantVerdict:
    """The verdict rule applied to one variant (the main analysis or a sensitivity one)."""

    sensitivity: str | None
    label: str
    verdict: str
    why: str
    ours: str
    estimate: float = math.nan
    conf_low: float = math.nan
    conf_high: float = math.nan


@dataclass
class Verdict:
    """The claim's verdict: the main analysis's, with its numbers and its robustness."""

    verdict: str
    why: str
    ours: str
    published: str
    row: str = ""  # which estimate: "deficiency_adjusted, Q4"
    main: VariantVerdict | None = None  # the main analysis's numbers
    sensitivity: list[VariantVerdict] = field(default_factory=list)
    null: float | None = None
    ratio_scale: bool = False

    @property
    def agreeing(self) -> list[VariantVerdict]:
        """The sensitivity analyses whose verdict agrees with the main one."""
        return [s for s in self.sensitivity if verdicts.agrees(self.verdict, s.verdict)]

    @property
    def held(self) -> str:
        """``holds in 4 of 5 sensitivity analyses`` (empty without any)."""
        if not self.sensitivity:
            return ""
        return f"holds in {len(self.agreeing)} of {len(self.sensitivity)} sensitivity analyses"

    @property
    def robustness(self) -> str:
        """:attr:`held`, then the ones that disagree: ``…; not in supplement non-users (…)``."""
        others = [s for s in self.sensitivity if s not in self.agreeing]
        if not others:
            return self.held
        return self.held + "; not in " + "; ".join(f"{s.label} ({s.verdict})" for s in others)


@dataclass
class SpecResult:
    """One specification's results: tidy table, what was fitted, notes and the verdict."""

    spec: Spec
    table: pl.DataFrame
    fits: list[FitInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cautions: list[str] = field(default_factory=list)  # e.g. large complete-case losses
    verdict: Verdict | None = None
    error: str | None = None
    usual_cache: dict[tuple[object, ...], pl.DataFrame] = field(default_factory=dict, repr=False)
    # who was analysed, per model analysis (columns analysis, sensitivity, then those of
    # nhanes_mg.flow.FLOW_SCHEMA / MISSING_SCHEMA); empty without model analyses
    flow: pl.DataFrame = field(default_factory=pl.DataFrame)
    missingness: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Table 1 of each main model analysis (nhanes_mg.table1.TABLE1_SCHEMA + analysis, …)
    table1: pl.DataFrame = field(default_factory=pl.DataFrame)
    margins: pl.DataFrame = field(default_factory=pl.DataFrame)  # predictive margins
    survival: pl.DataFrame = field(default_factory=pl.DataFrame)  # survey KM curves (Cox)
    dose_response: pl.DataFrame = field(default_factory=pl.DataFrame)  # spline curves

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
