"""The report: per claim the document's sentence, published vs our estimate, verdict, figure,
population and model; then methods, the data used (with sha256) and software versions.

Writes ``report.md`` and a self-contained ``report.html`` (figures embedded as base64 PNG) and
``tables/{id}.csv`` for every specification.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from nhanes_mg import __version__, numbers
from nhanes_mg.data import catalog
from nhanes_mg.files import atomic_write, inside, write_csv
from nhanes_mg.report import contrast_section, data_files, markup
from nhanes_mg.report import validation_section as section
from nhanes_mg.report.labels import expression_words, level_words, spec_words
from nhanes_mg.report.markup import SYNTHETIC_STAMP
from nhanes_mg.report.verdicts_table import evalues_of, verdicts_table
from nhanes_mg.study import verdicts
from nhanes_mg.study.evalues import RARE
from nhanes_mg.study.flow import COMPLETE_CASE_NOTE
from nhanes_mg.study.regression_table import EXPOSURE
from nhanes_mg.study.results import (
    OVERALL,
    RATIO_SCALES,
    SURVIVAL_ESTIMATOR,
    FitInfo,
    SpecResult,
    Verdict,
)
from nhanes_mg.study.spec_types import ModelAnalysis, Spec, cycles_text
from nhanes_mg.study.weights import CDC_NAME
from nhanes_mg.study.words import column_words, listing

PACKAGES = ("polars", "numpy", "scipy", "statsmodels", "formulaic", "plotnine", "pyreadstat")


@dataclass
class ReportInputs:
    """What the report is made of."""

    results: Sequence[SpecResult]
    figures: dict[str, list[Path]]
    data_dir: Path
    analytic_meta: dict[str, object]
    synthetic: bool = False
    validation: pl.DataFrame | None = None  # the validation gallery (nhanes_mg.study.validation)
    validation_figure: Path | None = None
    seam_figure: Path | None = None  # supplements by cycle: the 2006/2007 derivation seam


# the per-analysis outputs of a specification: tables/{id}_{name}.csv ← SpecResult.{attribute}
OUTPUT_TABLES = {
    "flow": "flow",
    "missing": "missingness",
    "table1": "table1",
    "margins": "margins",
    "survival": "survival",
    "dose_response": "dose_response",
    "regression": "regression",
}


def table_names(spec_id: str) -> list[str]:
    """Every table file :func:`write_tables` may write for a specification (under tables/)."""
    return [f"{spec_id}.csv", f"{spec_id}_fits.csv", *(f"{spec_id}_{n}.csv" for n in OUTPUT_TABLES)]


def write_tables(result: SpecResult, folder: Path, synthetic: bool = False) -> Path:
    """``tables/{id}.csv``: tidy rows; ``scale`` says whether ``estimate`` is an odds/hazard
    ratio, a difference, a mean, a share or a ratio of means."""
    table = result.table
    if synthetic:
        table = table.with_columns(data=pl.lit(SYNTHETIC_STAMP))
    path = inside(folder, f"{result.spec.id}.csv")  # an id is a name, never a path
    write_csv(path, table)
    fits = fits_table(result)
    if synthetic:
        fits = fits.with_columns(data=pl.lit(SYNTHETIC_STAMP))
    write_csv(inside(folder, f"{result.spec.id}_fits.csv"), fits)
    for name, attribute in OUTPUT_TABLES.items():
        frame = getattr(result, attribute)
        if frame.height:
            if synthetic:
                frame = frame.with_columns(data=pl.lit(SYNTHETIC_STAMP))
            write_csv(inside(folder, f"{result.spec.id}_{name}.csv"), frame)
    return path


FLOW_HEADERS = ["step", "kept if", "n lost", "n remaining"]


# a level under its variable: no-break spaces after a zero-width space (a table cell's
# leading whitespace, no-break spaces included, is stripped by the markdown parser)
INDENT = "\u200b" + "\u00a0" * 4


def table1_rows(result: SpecResult) -> tuple[str, list[str], list[list[str]]]:
    """Table 1 of the verdict's analysis (else the first), as gtsummary prints one: a row per
    numeric or yes/no characteristic, a categorical one's levels (in words) under it, each
    characteristic's P once; the overall column first, then each exposure category headed by
    its range; the unweighted n, and a missing row where values are missing."""
    t1 = result.table1
    if not t1.height:
        return "", [], []
    name = result.shown_analysis(t1)
    t1 = t1.filter(pl.col("analysis") == name).sort("group_order", maintain_order=True)
    groups = t1["group"].unique(maintain_order=True).to_list()
    ranges = dict(t1.select("group", "range").unique(maintain_order=True).iter_rows())
    exposure = t1["exposure"][0]

    def heading(group: str) -> str:
        if group == OVERALL:
            return group
        named = _with_range(result, name, group, ranges.get(group))
        return named if ranges.get(group) else f"{exposure}: {group}"

    headers = ["Characteristic", *[heading(g) for g in groups], "P"]
    rows: list[list[str]] = []
    first = t1.filter(pl.col("variable") == t1["variable"][0])
    by_first = {r["group"]: r for r in first.iter_rows(named=True)}
    rows.append(
        ["n (unweighted)"]
        + [numbers.count(by_first[g]["n"] + by_first[g]["n_missing"]) if g in by_first else ""
           for g in groups]
        + [""]
    )  # fmt: skip
    for variable in t1["variable"].unique(maintain_order=True):
        cells = t1.filter(pl.col("variable") == variable)
        stat = cells["statistic"][0]
        unit = {"percent": ", % (SE)", "mean": ", mean (SE)"}.get(stat, "")
        p = numbers.p_value(cells["p_value"][0])
        levels = cells["level"].unique(maintain_order=True).to_list()
        if levels == [None]:
            rows.append([f"{cells['label'][0]}{unit}", *_t1_cells(cells, groups, stat), p])
        else:
            rows.append([f"{cells['label'][0]}{unit}", *[""] * len(groups), p])
            for level in levels:
                one = cells.filter(pl.col("level") == level)
                words = one["level_label"][0] if "level_label" in one.columns else None
                rows.append([INDENT + str(words or level), *_t1_cells(one, groups, stat), ""])
        missing = cells.group_by("group").agg(pl.col("n_missing").first())
        if missing["n_missing"].fill_null(0).sum():
            lost = dict(missing.iter_rows())
            rows.append(
                [INDENT + "Missing, n", *[numbers.count(lost.get(g, 0)) for g in groups], ""]
            )
    return name, headers, rows


def _with_range(result: SpecResult, analysis: str, category: str, range_: str | None) -> str:
    """An exposure category with its range: ``Q1 (≤ 209 mg/day)``; a cut-point category is
    its range (``≤ 1.7`` → ``≤ 1.7 mg/day``, the unit added)."""
    if not range_:
        return category
    exposure_type = getattr(result.spec.analysis(analysis), "exposure_type", "")
    return str(range_) if exposure_type == "cutpoints" else f"{category} ({range_})"


def _t1_cells(cells: pl.DataFrame, groups: list[str], stat: str) -> list[str]:
    """One characteristic's (or level's) cells: "mean (SE)", "% (SE)" or a count."""
    by = {r["group"]: r for r in cells.iter_rows(named=True)}
    share = stat == "percent"  # stored as % (0–100)
    digits = 1 if share else numbers.decimals(cells["estimate"].to_list())
    out = []
    for g in groups:
        row = by.get(g)
        if row is None or not numbers.finite(row["estimate"]):
            out.append("—")
        elif stat in ("count", "person-years"):
            out.append(numbers.count(row["estimate"]))
        else:
            out.append(numbers.mean_se(row["estimate"], row["std_error"], digits=digits))
    return out


SCALE_HEADS = {"odds ratio": "OR", "hazard ratio": "HR", "difference": "β"}


def regression_table_rows(result: SpecResult) -> tuple[str, list[str], list[list[str]]]:
    """The regression table of the verdict's analysis (else the first model), as gtsummary's
    ``tbl_regression`` prints it: each characteristic, a categorical one's levels under it
    in words, the reference level marked "—", estimate (95% CI) and P."""
    table = result.regression
    if not table.height:
        return "", [], []
    name = result.shown_analysis(table)
    table = table.filter(pl.col("analysis") == name)
    scale = str(table["scale"][0])
    null = 1.0 if "ratio" in scale else 0.0
    head = SCALE_HEADS.get(scale, scale)
    t1 = result.table1
    ranges = (  # an exposure category's range, as Table 1 heads its column
        dict(t1.filter(pl.col("analysis") == name).select("group", "range").unique().rows())
        if t1.height and "range" in t1.columns
        else {}
    )
    rows: list[list[str]] = []
    for variable in table["variable"].unique(maintain_order=True):
        part = table.filter(pl.col("variable") == variable)
        levelled = part["level"].null_count() < part.height
        if levelled:
            title = str(part["label"][0])
            rows.append([title[:1].upper() + title[1:], "", ""])
        for r in part.iter_rows(named=True):
            label = str(r["label"])
            if levelled:
                words = str(r["level_label"] or r["level"])
                range_ = ranges.get(r["level"]) if variable == EXPOSURE else None
                label = INDENT + _with_range(result, name, words, range_)
            if r["reference"]:
                rows.append([label, "— (reference)", ""])
                continue
            estimate = numbers.estimate_ci(r["estimate"], r["conf_low"], r["conf_high"], null=null)
            rows.append([label, estimate, numbers.p_value(r["p_value"])])
    return name, ["Characteristic", f"{head} (95% CI)", "P"], rows


def margins_text(result: SpecResult) -> str:
    """The verdict analysis's predictive margins in one line (or "")."""
    m = result.margins
    if not m.height:
        return ""
    name = result.shown_analysis(m)
    m = m.filter(pl.col("analysis") == name).sort("group_order")
    share = "%" in m["statistic"][0]  # adjusted prevalences are stored as % already
    scale = 0.01 if share else 1.0
    cells = "; ".join(
        f"{r['group']} "
        + numbers.estimate_ci(scale * r["estimate"], scale * r["conf_low"],
                              scale * r["conf_high"], percent=share)
        for r in m.iter_rows(named=True)
    )  # fmt: skip
    return (
        f"{m['statistic'][0]} by {m['exposure'][0]} (predictive margins of `{name}`, "
        f"adjusted for {m['adjusted_for'][0]}; 95% CI): {cells}"
    )


def flow_rows(result: SpecResult) -> tuple[str, list[list[str]]]:
    """The sample flow of the verdict's analysis (else the first model analysis): steps
    numbered as shown, variables that lose nobody gathered on one row, columns and population
    conditions in words (the conditions as written are in ``tables/{id}_flow.csv``)."""
    flow = result.flow.filter(pl.col("sensitivity").is_null()) if result.flow.height else None
    if flow is None or not flow.height:
        return "", []
    name = result.shown_analysis(flow)
    words = spec_words(result.spec)
    shown: list[tuple[str, str, str]] = []  # (kept if, n lost, n remaining)
    quiet: list[str] = []  # consecutive variables that lose nobody: one row
    for r in flow.filter(pl.col("analysis") == name).iter_rows(named=True):
        if quiet and not (r["kind"] == "missing" and r["n_lost"] == 0):
            shown.append((f"{listing(quiet)} not missing", "0", shown[-1][2]))
            quiet = []
        if r["kind"] == "missing":
            if r["n_lost"] == 0:
                quiet.append(column_words(str(r["variable"])))
                continue
            kept = f"{column_words(str(r['variable']))} not missing"
        elif r["kind"] == "population":
            kept = expression_words(str(r["condition"]), words)  # the SQL: in the CSV
        else:
            kept = str(r["condition"])
        lost = "" if r["kind"] == "start" else numbers.count(r["n_lost"])
        shown.append((kept, lost, numbers.count(r["n_after"])))
    if quiet:
        shown.append((f"{listing(quiet)} not missing", "0", shown[-1][2]))
    return name, [[str(i), *row] for i, row in enumerate(shown)]


def fits_table(result: SpecResult) -> pl.DataFrame:
    """What was fitted, one row per analysis and sensitivity analysis (``{id}_fits.csv``)."""
    rows = [
        {
            "analysis": f.analysis,
            "sensitivity": f.sensitivity,
            "label": f.label,
            "cycles": "; ".join(f.cycles),
            "cycles_left_out": "; ".join(f"{c} ({why})" for c, why in f.dropped),
            "n": f.n,
            "events": f.events,
            # the weighted share with the outcome: it decides a rare or common outcome (E-values)
            "outcome_share": f.outcome_share,
            "weight": f.weight,
            "weight_reason": f.weight_reason,
            "model": f.description,
            "imputed": f.imputed_text or None,
            "error": f.error,
        }
        for f in result.fits
    ]
    schema = {
        "analysis": pl.String,
        "sensitivity": pl.String,
        "label": pl.String,
        "cycles": pl.String,
        "cycles_left_out": pl.String,
        "n": pl.Int64,
        "events": pl.Int64,
        "outcome_share": pl.Float64,
        "weight": pl.String,
        "weight_reason": pl.String,
        "model": pl.String,
        "imputed": pl.String,
        "error": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _rows(result: SpecResult) -> list[list[str]]:
    """The tidy table as the report prints it: one "estimate (95% CI)" cell per row."""
    rows = []
    for r in result.table.iter_rows(named=True):
        share = r["scale"] == "proportion"
        points = r["scale"] == "difference of proportions"  # percentage points
        null = 1.0 if r["scale"] in RATIO_SCALES else None
        parts = (r["cycle"], r["group"], r["subgroup"], r["stratum"])
        where = " · ".join(level_words(x) for x in parts if x)
        text = numbers.estimate_ci(
            r["estimate"], r["conf_low"], r["conf_high"], null=null, percent=share or points
        )
        rows.append(
            [
                r["analysis"] + (f" [{r['sensitivity']}]" if r["sensitivity"] else ""),
                r["role"],
                level_words(r["term"]),
                where,
                text.replace("%", "") + " pp" if points and text else text,
                numbers.p_value(r["p_value"]),
                numbers.count(r["n"]),
                r["scale"],
            ]
        )
    return rows


HEADERS = [
    "analysis",
    "role",
    "term",
    "cycle · group · stratum",
    "estimate (95% CI)",
    "P",
    "n",
    "scale",
]


def _fit_rows(result: SpecResult) -> list[list[str]]:
    """What was fitted: analysis, model, cycles (and those left out), n, events, weight."""
    rows = []
    for f in result.fits:
        name = f.analysis + (f" [{f.sensitivity}: {f.label}]" if f.sensitivity else "")
        left = "; ".join(f"{c}: {why}" for c, why in f.dropped)
        cycles = cycles_text_of(f) + (f" (left out: {left})" if left else "")
        cdc = CDC_NAME.get(f.weight, f.weight)
        weight = (
            f.weight_reason
            if cdc in f.weight_reason.split("→")[-1]
            else (f"{cdc} — {f.weight_reason}" if f.weight else "")
        )
        if f.error:
            rows.append([name, f.description, "", "", "", f"not estimated: {f.error}"])
            continue
        events = numbers.count(f.events)
        n = numbers.count(f.n) + (f", of whom {f.imputed_text}" if f.imputations else "")
        rows.append([name, f.description, cycles, n, events, weight])
    return rows


FIT_HEADERS = ["analysis", "model", "cycles fitted", "n (unweighted)", "events", "weight"]


def cycles_text_of(fit: FitInfo) -> str:
    return cycles_text(tuple(catalog.get_cycle(c) for c in fit.cycles)) if fit.cycles else ""


def declared_text(spec: Spec, code: str = "") -> str:
    """The specification's own variables in words: name (label, unit; source), …"""
    parts = []
    for v in spec.variables:
        words = ", ".join(x for x in (v.label, v.unit) if x)
        parts.append(f"{code}{v.name}{code} ({words + '; ' if words else ''}{v.source_text})")
    return "; ".join(parts)


CURVE_HEADERS = ["analysis", "row", "n", "ours", "published (its own comparator)", "verdict", "why"]


def curve_rows(verdict: Verdict) -> list[list[str]]:
    """A statement's specification curve as table rows, sorted by estimate (the main row
    marked; rows not estimated last)."""
    order = sorted(
        verdict.curve,
        key=lambda c: (
            not math.isfinite(c.estimate),
            c.estimate if math.isfinite(c.estimate) else 0,
        ),
    )
    return [
        [
            ("▶ " if c is verdict.main else "") + c.label,
            c.row,
            numbers.count(c.n),
            c.ours,
            c.comparator or "—",
            c.verdict,
            c.why + (f"; {c.note}" if c.note else ""),
        ]
        for c in order
    ]


def statement_items(result: SpecResult, v: Verdict) -> list[tuple[str, str, str]]:
    """What the report says of one judged statement, as (heading, detail, text): the heading
    is printed bold, the detail after it in parentheses; "Verdict" carries the verdict word
    as its detail."""
    items: list[tuple[str, str, str]] = []
    if v.statement:
        tag = "Secondary statement" if v.secondary else "Statement"
        items.append((tag, v.statement, v.text))
    items.append(("Published", "", v.published))
    ev, note = evalues_of(result, v, v.main) if v.main else (None, "")
    evalue = (
        f"; {ev.text()}" + (" (common outcome: as a risk ratio)" if ev.common else "") if ev else ""
    )
    if note:
        evalue = f"; {note}"
    items.append(("Ours", v.row, v.ours + evalue))
    items.append(("Verdict", v.verdict, v.why))
    if v is result.verdicts[0]:  # beside the claim's primary verdict
        items += [("⚠ Incomplete data", "", line) for line in result.incomplete]
    if v.caution:
        items.append(("⚠ Beside the verdict", "", v.caution))
    if v.summary:
        items.append(("Specification curve", "", v.summary))
    if v.limits:
        items.append(("What this statement cannot test", "", v.limits))
    return items


def measurement_error_lines(result: SpecResult) -> list[str]:
    """Each regression-calibrated sensitivity analysis beside its analysis: the naive and the
    calibrated estimates and the attenuation factor λ (naive ÷ calibrated coefficient)."""
    lines = []
    table = result.table.filter(pl.col("role").is_in(["estimate", "stratum effect"]))
    for sens in result.spec.sensitivities:
        base = result.spec.analysis(sens.name)
        if getattr(sens, "exposure_error", "none") == getattr(base, "exposure_error", "none"):
            continue
        naive = table.filter((pl.col("analysis") == base.name) & pl.col("sensitivity").is_null())
        fixed = table.filter(
            (pl.col("analysis") == base.name) & (pl.col("sensitivity") == sens.sensitivity)
        )
        pairs = naive.join(fixed, on=["term", "stratum"], how="inner", nulls_equal=True)
        parts = []
        for row in pairs.iter_rows(named=True):
            ratio = row["scale"] in RATIO_SCALES
            coef = [math.log(x) if ratio else x for x in (row["estimate"], row["estimate_right"])]
            null = 1.0 if ratio else 0.0
            where = f" [{row['stratum']}]" if row["stratum"] else ""
            text = (
                f"{row['term']}{where}: naive {_estimate_text(row)} vs calibrated "
                f"{_estimate_text(row, '_right')}"
            )
            if row["conf_low_right"] <= null <= row["conf_high_right"]:
                text += " (no association to be diluted: no λ)"
            else:
                text += f", attenuation factor λ = {coef[0] / coef[1]:.2f}"
            parts.append(text)
        if parts:
            lines.append(
                f"{base.label or base.name} — " + "; ".join(parts) + ". λ is the naive "
                "coefficient over the calibrated one (1: no dilution). Corrected: random "
                "day-to-day variation of intake; not corrected: systematic under-reporting."
            )
    return lines


def _estimate_text(row: dict[str, object], suffix: str = "") -> str:
    null = 1.0 if row["scale"] in RATIO_SCALES else 0.0
    est, lo, hi = (row[f"{k}{suffix}"] for k in ("estimate", "conf_low", "conf_high"))
    return numbers.estimate_ci(est, lo, hi, null=null)


def _versions() -> list[tuple[str, str]]:
    out = [("nhanes-mg", __version__), ("python", platform.python_version())]
    for name in PACKAGES:
        try:
            out.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _methods() -> list[str]:
    return [
        "Survey design: strata SDMVSTRA, PSUs SDMVPSU nested within strata, Taylor "
        "linearization (nhanes_mg.survey, checked against R's survey package); strata with a "
        "single PSU in a domain are centred at the grand mean (survey.lonely.psu = 'adjust').",
        "Domains: every population is a domain of the full design of its cycles; models are "
        "complete-case within the domain (rows with missing outcome, exposure or covariate "
        "leave the domain, not the design).",
        "Quantile exposures: weighted quantiles computed in the analysis domain; P for trend "
        "from the category's weighted median entered as a continuous term (Wald t, design df).",
        "Trends across cycles: weighted least squares of the cycle estimates on the cycle "
        "midpoint (weights 1/SE², cycles are independent samples), z test of the slope.",
        "Logistic models: quasibinomial (same estimates as binomial, no warnings on weights); "
        "Cox models: weighted partial likelihood, Efron ties, design-based (dfbeta) variance; "
        "follow-up from the exam (PERMTH_EXM), ELIGSTAT = 1.",
        "Weights: the weight of the smallest subsample among the variables an analysis uses "
        "(interview or MEC exam: WTMEC2YR; a day-1 recall: WTDRD1; both recall days, such as a "
        "two-day mean intake: WTDR2D), unless a specification sets one; each analysis runs on "
        "the cycles that have its variables and its weight, k pooled cycles dividing the "
        "weights by k.",
        "Effect modification: one joint model with exposure × modifier terms; the effect in "
        "each stratum and their contrast are linear combinations of its coefficients with "
        "design-based variance (as R's svycontrast); the interaction terms are tested jointly.",
        "Sample flow: from every participant of the cycles fitted, the population's clauses, "
        "the weight's subsample, then a missing outcome, exposure, time, covariate or "
        "modifier in turn (tables/{id}_flow.csv); a claim notes when complete-case analysis "
        f"loses more than {COMPLETE_CASE_NOTE:.0%} of the eligible sample (weighted).",
        "E-values (VanderWeele & Ding 2017): how strongly an unmeasured confounder would have "
        "to be tied to both exposure and outcome, on the risk-ratio scale, to explain the "
        "verdict's odds or hazard ratio away (and its confidence limit nearer the null); an "
        f"outcome in {RARE:.0%} or more of the analysed sample (survey-weighted) is common, "
        "and its ratio is converted to a risk ratio first (√OR; (1 − 0.5^√HR) / "
        "(1 − 0.5^√(1/HR))); an estimate on the other side of the claim gets none.",
        "Specification curves: each judged statement reads one row of its verdict analysis; "
        "its curve is that row in every analysis the statement lists and in each of their "
        "sensitivity analyses, each judged by the same rule against its own comparator (the "
        "estimate its source published for that cycle, basis and threshold, or nothing). The "
        "summary gives the range of estimates and how many exclude no effect on the claimed "
        "side; a verdict that rests on a minority of its analyses says so.",
        "Verdicts: "
        + "; ".join(f"{word}: {rule}" for word, rule in verdicts.VOCABULARY)
        + ". "
        + verdicts.MODIFICATION_RULE,
    ]


def render_markdown(inputs: ReportInputs, figure_ref: Callable[[Path], str]) -> str:
    """The report as markdown; ``figure_ref`` turns a figure path into a link target."""
    stamp = (
        f"\n> **{SYNTHETIC_STAMP}.** Generated sample, not NHANES.\n" if inputs.synthetic else ""
    )
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Magnesium, calcium and vitamin D claims checked on NHANES",
        stamp,
        f"Generated {now} by nhanes-mg {__version__}. Each claim of the source documents is set "
        "beside the published estimate and ours, with a verdict that follows from the rule in "
        "its specification.",
        "",
        "## Summary",
        "",
        "| claim | published | ours | verdict | specification curve |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r, v, name in summary_rows(inputs.results):
        curve = "; ".join(x for x in (v.summary, v.caution) if x) if v else ""
        sid = r.spec.id  # an identifier (issue 20's pattern): a safe link target
        out.append(
            f"| [{sid}](#{sid}){_cell(name[len(sid) :])} | {_cell(v.published if v else '—')} | "
            f"{_cell(v.ours if v else '—')} | **{v.verdict if v else 'no rule'}** | "
            f"{_cell(curve)} |"
        )
    for r in inputs.results:
        spec = r.spec
        out += ["", f"## {spec.id}. {spec.title}", "", f"> {spec.claim}", ""]
        cited = "**Evidence cited**"
        if spec.source:  # a specification may leave its source out
            cited = f"**Source**: {spec.source}; evidence cited"
        out.append(f"- {cited}: {spec.citation}")
        for v in r.verdicts:
            for head, detail, text in statement_items(r, v):
                if head == "Verdict":
                    out.append(f"- **Verdict**: **{detail}** — {text}")
                else:
                    out.append(f"- **{head}**{f' ({detail})' if detail else ''}: {text}")
        if not r.verdicts:
            out += [f"- ⚠ **Incomplete data**: {line}" for line in r.incomplete]
        if spec.limits:
            out.append(f"- **What this cannot test**: {spec.limits}")
        out.append(f"- **Population**: `{spec.population}`, cycles as fitted below")
        if spec.variables:
            out.append(f"- **Its own variables**: {declared_text(spec, code='`')}")
        if spec.notes:
            out.append(f"- **Notes**: {spec.notes}")
        for text in measurement_error_lines(r):
            out.append(f"- **Measurement error**: {text}")
        for note in [*r.notes, *r.cautions]:
            out.append(f"- ⚠ {note}")
        for v in r.verdicts:
            out += [
                "",
                f"**Specification curve{_of_statement(v)}**: every analysis and sensitivity "
                "analysis, sorted by estimate, each against its own comparator "
                "(▶ the main analysis):",
                "",
                "| " + " | ".join(CURVE_HEADERS) + " |",
                "|" + " --- |" * len(CURVE_HEADERS),
            ]
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in curve_rows(v)]
        for fig in inputs.figures.get(spec.id, []):
            out += ["", f"![{spec.id}]({figure_ref(fig)})"]
        if r.survival.height:
            out += ["", f"Survival curves (`tables/{spec.id}_survival.csv`): unadjusted; "
                    f"{SURVIVAL_ESTIMATOR}."]  # fmt: skip
        out += ["", f"**What was fitted** (`tables/{spec.id}_fits.csv`):", ""]
        out.append("| " + " | ".join(FIT_HEADERS) + " |")
        out.append("|" + " --- |" * len(FIT_HEADERS))
        out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in _fit_rows(r)]
        flow_name, flow = flow_rows(r)
        if flow:
            out += ["", f"**Who was analysed in `{flow_name}`** (every model analysis: "
                    f"`tables/{spec.id}_flow.csv`; missingness: `tables/{spec.id}_missing.csv`):",
                    "", "| " + " | ".join(FLOW_HEADERS) + " |",
                    "|" + " --- |" * len(FLOW_HEADERS)]  # fmt: skip
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in flow]
        t1_name, t1_headers, t1 = table1_rows(r)
        if t1:
            out += ["", f"**Table 1**: who was analysed in `{t1_name}`, overall and by "
                    "exposure category: survey-weighted % or mean (SE), unweighted n; P: the "
                    "design-based test of a difference between the categories (Rao–Scott F "
                    f"for a categorical characteristic, Wald F for a mean) "
                    f"(`tables/{spec.id}_table1.csv`):", "",
                    "| " + " | ".join(t1_headers) + " |",
                    "|" + " --- |" * len(t1_headers)]  # fmt: skip
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t1]
        if margins_text(r):
            out += ["", f"**Adjusted**: {margins_text(r)}"]
        elif continuous := [
            a.name for a in spec.analyses
            if isinstance(a, ModelAnalysis) and a.exposure_type in ("continuous", "spline")
            and spec.outputs.margins and a.model != "cox"
        ]:  # fmt: skip
            out += ["", f"**Adjusted**: no predictive margins for {', '.join(continuous)}: "
                    "they are produced by exposure category (quantile, cut-point and yes/no "
                    "exposures); a continuous exposure's adjusted association is its estimate "
                    "per unit (or the spline's curve in the dose–response figure)."]  # fmt: skip
        reg_name, reg_headers, reg = regression_table_rows(r)
        if reg:
            out += ["", f"**Regression table of `{reg_name}`**: every term of the model, "
                    "survey-weighted, design-based 95% CI and Wald P "
                    f"(`tables/{spec.id}_regression.csv`; every main model):", "",
                    "| " + " | ".join(reg_headers) + " |",
                    "|" + " --- |" * len(reg_headers)]  # fmt: skip
            out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in reg]
        cuts = [
            f"- `{f.analysis}`{' [' + f.sensitivity + ']' if f.sensitivity else ''}: "
            f"{', '.join(f'{c:.4g}' for c in f.cuts)}"
            for f in r.fits
            if f.cuts
        ]
        if cuts:
            out += markup.details("Cut points", cuts)
        out += contrast_section.markdown(r)  # group differences (a `contrast`), if any
        table = ["| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
        table += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in _rows(r)]
        out += markup.details(f"Table (tables/{spec.id}.csv)", table)
    if inputs.validation is not None:
        out += section.markdown(inputs.validation, inputs.validation_figure, figure_ref)
    out += ["", "## Methods", ""] + [f"- {m}" for m in _methods()]
    meta = inputs.analytic_meta
    gaps = meta.get("gaps") or []
    out += ["", "## Data", ""]
    out.append(
        f"Analytic dataset: {meta.get('rows', '?')} participants, cycles "
        f"{', '.join(map(str, meta.get('cycles', []) or []))}. Gaps: "  # type: ignore[call-overload]
        f"{len(gaps) if isinstance(gaps, list) else gaps} missing table(s)."
    )
    if isinstance(gaps, list):
        for g in gaps:
            out.append(f"- gap: {g}")
    out += ["", *_supplement_words(meta)]
    if inputs.seam_figure is not None:
        out += ["", f"![supplements by cycle]({figure_ref(inputs.seam_figure)})"]
    used_files, others = data_files.data_rows(
        inputs.data_dir, data_files.used_tables(inputs.results), inputs.analytic_meta.get("cycles")
    )
    file_head = ["| file | bytes | sha256 | source |", "| --- | --- | --- | --- |"]
    if used_files:
        n_used = len(used_files)
        out += ["", f"**The {n_used} data files the analyses above read**, with their sha256:"]
        out += [
            "",
            *file_head,
            *("| " + " | ".join(_cell(c) for c in row) + " |" for row in used_files),
        ]
    if others:
        out += markup.details(
            f"The other {len(others)} files of the data dir (read by the build"
            + (" and the validation gallery" if inputs.validation is not None else "")
            + "; no analysis above uses them)",
            [*file_head, *("| " + " | ".join(_cell(c) for c in row) + " |" for row in others)],
        )
    out += ["", "## Software", "", "| package | version |", "| --- | --- |"]
    out += [f"| {n} | {v} |" for n, v in _versions()]
    return "\n".join(out) + "\n"


def _supplement_words(meta: dict[str, object]) -> list[str]:
    """The 2001-2006 supplement derivation's flagged shares, one sentence (or none)."""
    rows = meta.get("supplement_quality")
    if not isinstance(rows, list) or not rows:
        return []
    shares = "; ".join(
        f"{r['cycle']} {100 * r['share_flagged']:.1f}% ({100 * r['share_null']:.1f}% unknown)"
        for r in rows
    )
    return [
        "Supplements 2001-2006 (DSQ2 × DSII, our derivation; CDC's DSQTOT totals from 2007): "
        f"adults ≥ 20 whose supplement amounts are flagged (supp_quality): {shares}. The figure "
        "shows supplemental Mg and Ca by cycle, so a step at the 2006/2007 change of derivation "
        "is visible (tables/supplement_seam.csv)."
    ]


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
blockquote{border-left:4px solid #bbb;margin:0;padding:.2em 1em;color:#444;font-style:italic}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}img{max-width:100%;border:1px solid #eee}
code{background:#f6f6f6;padding:0 .2em}.stamp{background:#fde2e2;color:#900;padding:.5em 1em;
font-weight:bold;font-style:normal}.v-consistent{color:#176b2c}.v-weaker{color:#9a6700}
.v-not-reproduced{color:#555}.v-contradicted{color:#b00020}.v-inconclusive{color:#777}
.v-stronger-than-published{color:#2b7bba}.v-weaker-than-published{color:#9a6700}
.v-no-effect-of-the-claimed-size{color:#6a3d9a}
details{margin:.5em 0}summary{cursor:pointer;color:#0b5394}
"""


def render_html(inputs: ReportInputs) -> str:
    """The report's markdown (:func:`render_markdown`, figures embedded) as one
    self-contained HTML page (:func:`nhanes_mg.report.markup.to_html`)."""
    prepared = prepare_report(inputs)
    return markup.embed_figures(prepared.page, prepared.figures)


def _page(markdown: str, figures: dict[str, Path]) -> str:
    """The HTML page of the report's markdown, a mark where each figure goes."""
    body = markup.to_html_marked(markdown, figures)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>\n"
        f"<title>nhanes-mg report</title>\n<style>{_CSS}</style></head><body>\n"
        f"{body}</body></html>\n"
    )


def _with_figure_refs(inputs: ReportInputs) -> tuple[str, dict[str, Path]]:
    """The report's markdown with each figure named ``figure:N`` (embedded by the HTML
    renderer, linked by the markdown file: :func:`write_report`), and the figures."""
    figures: dict[str, Path] = {}

    def figure_ref(path: Path) -> str:  # embedded by the renderer, not read as markdown
        figures[f"figure:{len(figures)}"] = path
        return f"figure:{len(figures) - 1}"

    return render_markdown(inputs, figure_ref), figures


def summary_rows(
    results: Sequence[SpecResult],
) -> list[tuple[SpecResult, Verdict | None, str]]:
    """The summary's lines: one per judged statement (one per claim without a rule)."""
    out: list[tuple[SpecResult, Verdict | None, str]] = []
    for r in results:
        if not r.verdicts:
            out.append((r, None, f"{r.spec.id}: {r.spec.title}"))
        for v in r.verdicts:
            name = (
                f"{r.spec.id} ({v.statement}): {v.text}"
                if v.statement
                else (f"{r.spec.id}: {r.spec.title}")
            )
            out.append((r, v, name))
    return out


def _of_statement(v: Verdict) -> str:
    return f" of statement ({v.statement})" if v.statement else ""


REPORT_FILES = ("report.md", "report.html", "tables/verdicts.csv")  # what write_report writes


def write_report(inputs: ReportInputs, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.md`` (figures linked), ``report.html`` (figures embedded) and
    ``tables/verdicts.csv`` (:data:`REPORT_FILES`)."""
    return prepare_report(inputs).write(out_dir)


@dataclass(frozen=True)
class PreparedReport:
    """A report rendered before its figures are drawn (:func:`prepare_report`): ``run``
    renders it while its workers draw, and :meth:`write` reads the figures in at the end."""

    inputs: ReportInputs
    markdown: str  # figures referred to as figure:N
    page: str  # the HTML page, a mark where each figure goes
    figures: dict[str, Path]  # figure:N → its file

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write :data:`REPORT_FILES` into ``out_dir`` (every figure drawn by now)."""
        md_path, html_path, verdicts_path = (out_dir / name for name in REPORT_FILES)
        table = verdicts_table(self.inputs.results)
        if self.inputs.synthetic:
            table = table.with_columns(data=pl.lit(SYNTHETIC_STAMP))
        verdicts_path.parent.mkdir(parents=True, exist_ok=True)
        write_csv(verdicts_path, table)
        # rendered once: the markdown file links each figure where the HTML page embeds it
        md = re.sub(
            r"\]\((figure:\d+)\)",
            lambda m: f"]({os.path.relpath(self.figures[m.group(1)], out_dir)})",
            self.markdown,
        )
        atomic_write(md_path, lambda p: p.write_text(md, encoding="utf-8"))
        html_text = markup.embed_figures(self.page, self.figures)
        atomic_write(html_path, lambda p: p.write_text(html_text, encoding="utf-8"))
        return md_path, html_path


def prepare_report(inputs: ReportInputs) -> PreparedReport:
    """The report of ``inputs`` rendered (markdown and HTML page), its figures not read: they
    need not be drawn yet, only named (``inputs.figures``)."""
    markdown, figures = _with_figure_refs(inputs)
    return PreparedReport(inputs, markdown, _page(markdown, figures), figures)
