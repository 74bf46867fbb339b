"""The validation gallery's section of the report (markdown and HTML), from its table.

>>> import polars as pl
>>> from nhanes_mg.study.validation.gallery import SCHEMA
>>> row = {c: None for c in SCHEMA} | dict(id="P01", topic="Dietary supplement use",
...     label="adults ≥ 20", unit="%", published=57.6, ours=57.8, our_low=54.5, our_high=61.0,
...     z=0.11, status="within two combined SEs", reason="", source="NCHS Data Brief 399",
...     where="Figure 1", definition="…", cycles="2017-2018")
>>> table = pl.DataFrame([row], schema=SCHEMA)
>>> counts(table).split(", ")[1:3]
['1 within two combined SEs', '0 off']
>>> rows(table)[0][3:6]
['57.6%', '57.8% (54.5–61.0%)', 'z = 0.11']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import polars as pl

from nhanes_mg.study.validation import rules

HEADERS = ["target", "topic", "source", "published", "ours (95% CI)", "z", "status", "reason"]


def counts(table: pl.DataFrame) -> str:
    """``a within the published CI, b within two combined SEs, c off, d definition differs,
    e not estimated (of n targets)``."""
    n = {s: int((table["status"] == s).sum()) for s in rules.STATUSES}
    return ", ".join(f"{n[s]} {s}" for s in rules.STATUSES) + f" (of {table.height} targets)"


RATIO_UNITS = ("hazard ratio", "odds ratio")  # a published model's scale: no unit after it


def _value(x: object, unit: str, suffix: bool = True) -> str:
    """A number as the gallery prints it: ratios to 2 decimals, large amounts whole, else 1
    decimal; the unit after it unless ``suffix`` is false (an interval's low end)."""
    if not isinstance(x, int | float) or not math.isfinite(x):
        return ""
    digits = 2 if unit in RATIO_UNITS else (0 if abs(x) >= 100 else 1)
    text = f"{x:.{digits}f}"
    if not suffix:
        return text
    if unit == "%":
        return f"{text}%"
    return f"{text} {unit}" if unit and unit not in RATIO_UNITS else text


def _published(r: dict[str, object]) -> str:
    """The published value as printed ("49%", "57.6%", "1209 mg/day"), with its SE or CI."""
    unit = str(r["unit"] or "")
    value = r["published"]
    after = "" if unit in RATIO_UNITS else ("%" if unit == "%" else f" {unit}".rstrip())
    text = f"{value:g}{after}" if isinstance(value, int | float) and math.isfinite(value) else ""
    low, high = r["published_low"], r["published_high"]
    if isinstance(r["published_se"], int | float):
        text += f" (SE {r['published_se']:g})"
    elif isinstance(low, int | float) and isinstance(high, int | float):
        text += f" ({_value(low, unit, suffix=False)}–{_value(high, unit)})"
    return text


def _ours(r: dict[str, object]) -> str:
    unit = str(r["unit"] or "")
    if not isinstance(r["ours"], int | float):
        return "—"
    text = _value(r["ours"], unit)
    if isinstance(r["our_low"], int | float) and isinstance(r["our_high"], int | float):
        text += f" ({_value(r['our_low'], unit, suffix=False)}–{_value(r['our_high'], unit)})"
    return text


def rows(table: pl.DataFrame) -> list[list[str]]:
    """One row per target: target, topic, source, published, ours, z, status, reason."""
    out = []
    for r in table.sort("id").iter_rows(named=True):
        z = r["z"]
        out.append(
            [
                f"{r['id']} {r['label']}",
                str(r["topic"]),
                f"{r['source']}" + (f" ({r['cycles']})" if r["cycles"] else ""),
                _published(r),
                _ours(r),
                f"z = {z:.2f}" if isinstance(z, float) and math.isfinite(z) else "",
                str(r["status"]),
                str(r["reason"] or ""),
            ]
        )
    return out


INTRO = (
    "Published NHANES estimates re-estimated from the public files with each source's own "
    "definition (population, statistic, weight, exclusions), each a specification in "
    "`nhanes_mg/study/validation/targets/`; the table is `tables/validation.csv`. A gap is a "
    "finding to explain, never a reason to change a target."
)


def markdown(
    table: pl.DataFrame, figure: Path | None, figure_ref: Callable[[Path], str]
) -> list[str]:
    """The section's markdown lines."""
    out = ["", "## Validation gallery", "", INTRO, "", f"**{counts(table)}.**", ""]
    out += [f"- **{word}**: {rule}" for word, rule in rules.RULES]
    out += ["", "| " + " | ".join(HEADERS) + " |", "|" + " --- |" * len(HEADERS)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows(table)]
    if figure is not None and figure.exists():
        out += ["", f"![validation gallery]({figure_ref(figure)})"]
    return out
