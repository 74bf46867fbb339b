"""What a figure draws beside our estimates: the published values and the claim's thresholds.

A published value comes from an analysis's comparators (``compare``, each with the row it
holds a number against) or, for a statement's own analysis without one, from the statement's
reference at the row its verdict reads. A threshold (``rule = "threshold"``) is drawn in
every panel of the same quantity as the analysis it reads (a Ca:Mg of 2.8 in each Ca:Mg
panel, a 50 % in each share panel), never in a panel of another quantity or unit.
"""

from __future__ import annotations

from dataclasses import dataclass

from nhanes_mg import numbers
from nhanes_mg.expressions import variables_of
from nhanes_mg.study.spec_types import (
    Analysis,
    DescriptiveAnalysis,
    ModelAnalysis,
    Spec,
    UsualIntakeAnalysis,
)


@dataclass(frozen=True)
class Published:
    """A published value and the row of an analysis it stands beside."""

    analysis: str
    term: str | None
    cycle: str | None
    group: str | None
    stratum: str | None
    estimate: float
    conf_low: float | None
    conf_high: float | None
    text: str

    @property
    def source(self) -> str:
        """Who published it: the text before its colon (``Deng 2013``), else "published"."""
        head, colon, _ = self.text.partition(":")
        return head.strip() if colon and 0 < len(head) <= 40 else "published"

    def label(self, percent: bool = False) -> str:
        """``Deng 2013 (published):`` and ``0.34 (0.21–0.56)`` on two lines."""
        value = numbers.estimate_ci(self.estimate, self.conf_low, self.conf_high, percent=percent)
        source = self.source if self.source == "published" else f"{self.source} (published)"
        return f"{source}:\n{value}"  # two short lines stay inside a narrow panel


def published_values(spec: Spec) -> list[Published]:
    """Every published number of a specification's analyses, at the row it belongs to."""
    out: list[Published] = []
    for a in spec.analyses:
        rule = next((s.verdict for s in spec.statements if s.verdict.analysis == a.name), None)
        term = rule.term if rule else None
        cycle = rule.cycle if rule else None
        group = rule.group if rule else None
        given = [c for c in a.compare or () if c.estimate is not None]
        for c in given:
            assert c.estimate is not None
            out.append(
                Published(
                    a.name, c.term or term, c.cycle or cycle, c.group or group, c.stratum,
                    c.estimate, c.conf_low, c.conf_high, c.text,
                )
            )  # fmt: skip
        if given:
            continue
        for s in spec.statements:
            ref = s.reference
            if s.verdict.analysis == a.name and ref.estimate is not None:
                out.append(
                    Published(
                        a.name, s.verdict.term, s.verdict.cycle, s.verdict.group, None,
                        ref.estimate, ref.conf_low, ref.conf_high, ref.text,
                    )
                )  # fmt: skip
    return out


@dataclass(frozen=True)
class Threshold:
    """A claim's threshold and the analysis whose quantity it is on."""

    analysis: str
    value: float
    direction: str

    def label(self, percent: bool = False) -> str:
        """``claim: above 2.8``, ``claim: above 50%`` (the claim's number as it was given)."""
        return f"claim: {self.direction} {numbers.given(self.value, percent=percent)}"


def thresholds(spec: Spec) -> list[Threshold]:
    """The claim's thresholds (one per statement with a threshold rule, duplicates once)."""
    out: dict[tuple[str, float], Threshold] = {}
    for s in spec.statements:
        v = s.verdict
        if v.kind == "threshold" and v.value is not None:
            out.setdefault((v.analysis, v.value), Threshold(v.analysis, v.value, v.direction))
    return list(out.values())


def is_share(analysis: Analysis) -> bool:
    """Estimates of a share (drawn as %)."""
    if isinstance(analysis, UsualIntakeAnalysis):
        return analysis.statistic != "usual_mean"
    return isinstance(analysis, DescriptiveAnalysis) and analysis.statistic == "proportion"


def same_quantity(a: Analysis, b: Analysis) -> bool:
    """Whether a number on ``a``'s scale means the same thing in ``b`` (a threshold applies).

    Shares with shares; a ratio of means with ratios of means and with a mean or quantile of
    the individual ratio of the same columns; a mean or quantile with one of the same variable.
    """
    if a.name == b.name:
        return True
    if isinstance(a, ModelAnalysis) or isinstance(b, ModelAnalysis):
        return False
    if is_share(a) or is_share(b):
        return is_share(a) and is_share(b)
    if not (isinstance(a, DescriptiveAnalysis) and isinstance(b, DescriptiveAnalysis)):
        return False
    if a.statistic == "ratio":
        if b.statistic == "ratio":
            return True
        wanted = set(variables_of([a.variable])[:1] + variables_of([a.denominator])[:1])
        return "/" in b.variable and wanted <= set(variables_of([b.variable]))
    return b.statistic != "ratio" and a.variable == b.variable
