"""The report's group differences: per analysis with a ``contrast``, a table "difference
(95% CI), P, n" and the design-based test of no difference beside it.

Reads the result table's ``group difference`` and ``group test`` rows
(:mod:`nhanes_mg.study.contrasts`; this module loads no estimation code); every number
through :mod:`nhanes_mg.numbers`. A difference of shares reads in percentage points.

Examples
--------
>>> import polars as pl
>>> from nhanes_mg.study.analysis_frame import tidy_rows
>>> rows = pl.DataFrame({"term": ["women − men"], "estimate": [-0.0507], "std_error": [0.02],
...     "statistic": [-2.5], "p_value": [0.0163], "conf_low": [-0.0915], "conf_high": [-0.0100],
...     "df": [30.0], "n": [10002]})
>>> table = tidy_rows(rows, analysis="mg_ear", role="group difference", cycle="2015-2018",
...     scale="difference of proportions", outcome="Mg below the EAR")
>>> print("\\n".join(markdown_of(table)))
<BLANKLINE>
**Group differences in `mg_ear`** (Mg below the EAR; percentage points, 95% CI):
<BLANKLINE>
| cycle · group | difference | difference (95% CI) | P | n |
| --- | --- | --- | --- | --- |
| 2015-2018 | women − men | −5.1 (−9.2 to −1.0) | 0.016 | 10,002 |
"""

from __future__ import annotations

import polars as pl

from nhanes_mg import numbers
from nhanes_mg.derive.registry import level_words
from nhanes_mg.report.labels import expression_words
from nhanes_mg.study.results import DIFFERENCE_ROLE, DIFFERENCE_SCALES, TEST_ROLE, SpecResult

HEADERS = ["cycle · group", "difference", "difference (95% CI)", "P", "n"]
SHARES = DIFFERENCE_SCALES["proportion"]


def markdown(result: SpecResult) -> list[str]:
    """The group differences of every analysis of a result (no lines when there are none)."""
    return markdown_of(result.table)


def markdown_of(table: pl.DataFrame) -> list[str]:
    """The group differences of a result table, one block per analysis and sensitivity."""
    rows = table.filter(pl.col("role").is_in([DIFFERENCE_ROLE, TEST_ROLE]))
    out: list[str] = []
    keys = rows.select("analysis", "sensitivity").unique(maintain_order=True).rows()
    for analysis, sensitivity in keys:
        mine = rows.filter(
            (pl.col("analysis") == analysis)
            & pl.col("sensitivity").eq_missing(pl.lit(sensitivity, pl.String))
        )
        out += _block(analysis, sensitivity, mine)
    return out


def _where(row: dict[str, object]) -> str:
    """cycle · group · subgroup, the levels in words."""
    parts = [row["cycle"], *(row[c] for c in ("group", "subgroup"))]
    return " · ".join(str(level_words(x)) for x in parts if x) or "all"


def _block(analysis: str, sensitivity: str | None, rows: pl.DataFrame) -> list[str]:
    differences = rows.filter(pl.col("role") == DIFFERENCE_ROLE)
    tests = rows.filter(pl.col("role") == TEST_ROLE)
    first = rows.row(0, named=True)
    scale = str(differences["scale"][0]) if differences.height else ""
    shares = scale == SHARES
    unit = "percentage points" if shares else scale
    name = f"`{analysis}`" + (f" [{sensitivity}]" if sensitivity else "")
    outcome = expression_words(str(first["outcome"])) if first["outcome"] else ""
    what = "; ".join(x for x in (outcome, unit) if x)
    out = ["", f"**Group differences in {name}** ({what}, 95% CI):", ""]
    out.append("| " + " | ".join(HEADERS) + " |")
    out.append("|" + " --- |" * len(HEADERS))
    for r in differences.iter_rows(named=True):
        # a share's difference: the percent format (one decimal), read as percentage points
        text = numbers.estimate_ci(
            r["estimate"], r["conf_low"], r["conf_high"], null=0.0, percent=shares
        ).replace("%", "")
        cells = [_where(r), r["term"], text, numbers.p_value(r["p_value"]), numbers.count(r["n"])]
        # a level is the data's text: a "|" or a line break in it must not end the cell
        out.append(
            "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
        )
    out += [""] if tests.height else []
    for r in tests.iter_rows(named=True):
        p = numbers.p_value(r["p_value"])
        out.append(
            f"- {_where(r)}, test of no difference across the groups compared: {r['term']}, "
            f"F = {numbers.number(r['statistic'])} ({r['scale']}), "
            f"P {p if p.startswith('<') else '= ' + p} (n = {numbers.count(r['n'])})"
        )
    return out
