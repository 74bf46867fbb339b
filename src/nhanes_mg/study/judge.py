"""Statements judged on their specification curves: the verdict rules applied to result rows.

Each judged statement of a specification (:class:`nhanes_mg.study.spec.Statement`) reads one row of
its verdict analysis (the main verdict) and, for its specification curve, one row of every
analysis it lists and of each of their sensitivity analyses. Every row is judged against **its
own comparator**: the estimate its source published for that estimand (cycle, basis,
threshold), or nothing when nothing comparable was published, never a neighbouring number.
The rules are those of :mod:`nhanes_mg.study.verdicts`; this module only finds the rows and orients
them (stratum contrasts face the stratum the claim names).
"""

from __future__ import annotations

import math
from dataclasses import replace

import polars as pl

from nhanes_mg import numbers
from nhanes_mg.data import catalog
from nhanes_mg.study import verdicts
from nhanes_mg.study.results import (
    CONTRAST_RATIO_SCALES,
    RATIO_SCALES,
    SpecResult,
    VariantVerdict,
    Verdict,
)
from nhanes_mg.study.spec_types import (
    Analysis,
    Comparator,
    Spec,
    Statement,
    curve_members,
    cycles_text,
    judged_rows,
)

ALPHA = 0.05  # a published P for interaction is "reproduced" when ours falls on its side


def judge(spec: Spec, result: SpecResult) -> list[Verdict]:
    """Every statement of the specification judged on its curve (empty without a rule)."""
    return [judge_statement(spec, result, s) for s in spec.statements]


def judge_statement(spec: Spec, result: SpecResult, statement: Statement) -> Verdict:
    """One statement: its main verdict (the verdict analysis's own row) and its curve."""
    rule = statement.verdict
    verdict_rows = judged_rows(statement, spec.analysis(rule.analysis))
    # the main row: the verdict analysis's row the rule names (its first, if none matches)
    wanted = (rule.term, rule.cycle, rule.group)
    main_comparator = next(
        (c for c in verdict_rows if (c.term, c.cycle, c.group) == wanted), verdict_rows[0]
    )
    curve: list[VariantVerdict] = []
    main: VariantVerdict | None = None
    for analysis in curve_members(spec, statement):
        comparators = judged_rows(statement, analysis)
        for comparator in comparators:
            is_main = (
                analysis.name == rule.analysis
                and not analysis.sensitivity
                and comparator == main_comparator
            )
            label = _label(statement, analysis, comparator, len(comparators) > 1, is_main)
            row = _judge_row(result, statement, analysis, comparator, label)
            curve.append(row)
            if is_main:
                main = row
    assert main is not None  # the verdict analysis is the curve's first member
    ref = statement.reference
    published = ref.text or "—"
    where = ", ".join(x for x in (rule.analysis, main.row) if x)
    return Verdict(
        main.verdict,
        main.why,
        main.ours,
        published,
        where,
        main,
        curve,
        rule.value if rule.kind == "threshold" else (1.0 if _ratio(main.scale) else 0.0),
        _ratio(main.scale),
        statement=statement.name,
        text=statement.text,
        secondary=statement.secondary,
        limits=statement.limits,
        percent=main.scale == "proportion",
        kind=rule.kind,
        smallest=rule.smallest_effect,
    )


def _ratio(scale: str) -> bool:
    return scale in RATIO_SCALES or scale in CONTRAST_RATIO_SCALES


def _label(
    statement: Statement, analysis: Analysis, comparator: Comparator, many: bool, main: bool
) -> str:
    """The row's name in the curve: "main analysis" (the verdict's row; "same analysis" for
    its other rows, such as other cycles), a sensitivity's label, or another analysis's label
    (with the row when the analysis gives several)."""
    if analysis.name == statement.verdict.analysis:
        own = "main analysis" if main else "same analysis"
        label = analysis.sensitivity_label if analysis.sensitivity else own
    else:
        label = analysis.label or analysis.name.replace("_", " ")
        if analysis.sensitivity:
            label += f": {analysis.sensitivity_label}"
    if many:
        label += " (" + ", ".join(x for x in (comparator.cycle, comparator.group) if x) + ")"
    return label


def _row_text(comparator: Comparator) -> str:
    parts = (comparator.term, comparator.cycle, comparator.group, comparator.stratum)
    return ", ".join(dict.fromkeys(x for x in parts if x))  # a by-cycle term is its cycle


def _select(
    table: pl.DataFrame,
    analysis: Analysis,
    comparator: Comparator,
    role: str,
    stratum: str | None = None,
) -> pl.DataFrame:
    """The rows of one analysis (or sensitivity analysis) the comparator points at.

    A sensitivity analysis that changes a continuous exposure renames its one estimate row;
    it is then that row.
    """
    rows = _rows_of(table, analysis, role).filter(
        pl.col("stratum").is_null() if stratum is None else pl.col("stratum") == stratum
    )
    picked = rows
    for col in ("term", "cycle", "group"):
        want = getattr(comparator, col)
        if want is not None:
            picked = picked.filter(pl.col(col) == want)
    if picked.is_empty() and comparator.term is not None and rows["term"].n_unique() == 1:
        picked = rows
        for col in ("cycle", "group"):
            if getattr(comparator, col) is not None:
                picked = picked.filter(pl.col(col) == getattr(comparator, col))
    return picked


def _rows_of(table: pl.DataFrame, analysis: Analysis, role: str) -> pl.DataFrame:
    """The rows of one role of an analysis (or of one of its sensitivity analyses)."""
    return table.filter(
        (pl.col("analysis") == analysis.name)
        & pl.col("sensitivity").eq_missing(pl.lit(analysis.sensitivity, pl.String))
        & (pl.col("role") == role)
    )


def _judge_row(
    result: SpecResult,
    statement: Statement,
    analysis: Analysis,
    comparator: Comparator,
    label: str,
) -> VariantVerdict:
    """The statement's rule applied to one row of the curve, against the row's comparator."""
    rule = statement.verdict
    sensitivity = analysis.sensitivity
    direction = analysis.verdict_direction or rule.direction
    published_text = comparator.text or ("—" if comparator.estimate is None else "")
    pub = (
        verdicts.Published(comparator.estimate, comparator.conf_low, comparator.conf_high)
        if comparator.estimate is not None
        else None
    )
    if pub is not None and not published_text:
        published_text = numbers.estimate_ci(
            pub.estimate, pub.conf_low or pub.estimate, pub.conf_high or pub.estimate
        )
    blank = VariantVerdict(
        sensitivity,
        label,
        verdicts.NOT_ESTIMATED,
        "the analysis was not estimated",
        "—",
        analysis=analysis.name,
        row=_row_text(comparator),
        comparator=published_text,
        published=comparator.estimate,
        published_low=comparator.conf_low,
        published_high=comparator.conf_high,
        direction=direction,
    )
    info = result.fit(analysis.name, sensitivity)
    if info is None or info.error:
        return blank if info is None else replace(blank, why=info.error or blank.why)
    table = result.table
    role = "modification contrast" if rule.kind == "modification" else "estimate"
    if comparator.stratum is not None:
        role = "stratum effect"
    rows = _select(table, analysis, comparator, role, comparator.stratum)
    if rows.height != 1:
        what = f"{analysis.name} / {_row_text(comparator)}"
        if rows.height:
            return replace(blank, why=f"{rows.height} rows match {what}")
        present = _rows_of(table, analysis, role)
        found = "; ".join(
            dict.fromkeys(_row_text(Comparator(term=t, cycle=c, group=g)) for t, c, g in
                          present.select("term", "cycle", "group").iter_rows())
        )  # fmt: skip
        return replace(
            blank, why=f"no row matches {what} (its rows: {found or 'none'})", unmatched=True
        )
    row = rows.row(0, named=True)
    est, lo, hi = row["estimate"], row["conf_low"], row["conf_high"]
    ratio = _ratio(row["scale"])
    percent = row["scale"] == "proportion"
    shown = replace(comparator, term=row["term"], cycle=row["cycle"], group=row["group"])
    blank = replace(
        blank,
        row=_row_text(shown),  # the row read (a sensitivity may rename its one term)
        n=row["n"] if row["n"] is not None else info.n,
        scale=row["scale"],
        term=comparator.term or "",  # the contrast the rule selects (not a by-cycle label)
        outcome=row["outcome"] or "",
    )
    if rule.kind in ("threshold", "effect"):
        null = float(rule.value or 0.0) if rule.kind == "threshold" else (1.0 if ratio else 0.0)
        r = verdicts.Rule(rule.kind, direction, null, ratio, rule.smallest_effect)
        show = (lambda x: f"{100 * x:.3g}%") if percent else "{:g}".format
        judgement = verdicts.judge_estimate(verdicts.Estimate(est, lo, hi), r, pub, show)
        ours = numbers.estimate_ci(est, lo, hi, null=null, percent=percent)
        return _filled(blank, judgement, ours, est, lo, hi, r)
    # modification: the contrast oriented as "claimed stratum vs the other"
    null = 1.0 if ratio else 0.0
    assert info.strata is not None
    claimed, other = info.strata if rule.stronger_in == "modifier" else info.strata[::-1]
    if rule.stronger_in == "complement":
        est, lo, hi = (1 / est, 1 / hi, 1 / lo) if ratio else (-est, -hi, -lo)
    effect_rows = {
        s: _select(table, analysis, comparator, "stratum effect", s) for s in info.strata
    }
    if any(r.height != 1 for r in effect_rows.values()):
        return replace(blank, why="no stratum effects for the rule's term")
    eff = {s: r.row(0, named=True) for s, r in effect_rows.items()}
    r = verdicts.Rule("modification", direction, null, ratio, rule.smallest_effect)
    judgement = verdicts.judge_modification(
        verdicts.Estimate(est, lo, hi),
        verdicts.Estimate(
            eff[claimed]["estimate"], eff[claimed]["conf_low"], eff[claimed]["conf_high"]
        ),
        r,
        pub,
    )
    p = _rows_of(table, analysis, "interaction")
    p_ours = p["p_value"][0] if p.height == 1 else None
    p_text = p_value_text(p_ours)
    note = ""
    if comparator.p_value is not None and p_ours is not None:
        reproduced = (p_ours < ALPHA) == (comparator.p_value < ALPHA)
        # the source's data are named in its text; ours are the cycles the fit kept
        kept = catalog.parse_cycles(info.cycles) if info.cycles else result.spec.cycles_of(analysis)
        ours_in = cycles_text(kept)
        note = (
            f"the published P-interaction {comparator.p_text} is "
            f"{'' if reproduced else 'not '}reproduced in {ours_in} (ours P {p_text})"
        )
    fmt = numbers.estimate_ci
    a, b = (
        fmt(e["estimate"], e["conf_low"], e["conf_high"], null) for e in (eff[claimed], eff[other])
    )
    scale = row["scale"]  # oriented as the claimed stratum's relative to the other's
    ours = (
        f"{a} [{claimed}] vs {b} [{other}]; {scale} {fmt(est, lo, hi, null)}; "
        f"P-interaction {p_text}"
    )
    return replace(_filled(blank, judgement, ours, est, lo, hi, r), note=note)


def _filled(
    blank: VariantVerdict,
    judgement: verdicts.Judgement,
    ours: str,
    est: float,
    lo: float,
    hi: float,
    rule: verdicts.Rule,
) -> VariantVerdict:
    return replace(
        blank,
        side=verdicts.ci_side(verdicts.Estimate(est, lo, hi), rule),
        verdict=judgement.verdict,
        why=judgement.why,
        ours=ours,
        estimate=est,
        conf_low=lo,
        conf_high=hi,
    )


def p_value_text(p: float | None) -> str:
    """``< 0.001`` or ``= 0.036`` (``—`` when there is none)."""
    if p is None or not math.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"
