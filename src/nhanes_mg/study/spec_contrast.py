"""The ``contrast`` field of descriptive and usual-intake analyses: group differences.

A descriptive analysis compares the levels of one of its ``by`` columns::

    by = ["cycle", "sex"]
    contrast = "sex"                       # each level against the first (female − male)
    contrast = [["female", "male"]]        # or pairs [level, reference] of the one `by`
                                           # column besides cycle

within each combination of the other ``by`` columns (each cycle). A usual-intake analysis
compares its domains, by label::

    domains = [{ label = "women", where = "sex = 'female'" }, { label = "men", where = … }]
    contrast = [["women", "men"]]          # pairs [domain, reference]
    contrast = true                        # each domain against the first
    contrast = "men"                       # each other domain against this one

(A model analysis's ``contrast`` is another field: the two exposure values of a spline's
effect, :mod:`nhanes_mg.study.spec`.) A bad value is one :class:`~nhanes_mg.errors.SpecError`
line naming the field.

Examples
--------
>>> raw = {"contrast": "sex"}
>>> descriptive_contrast(raw, "proportion", ("cycle", "sex"), {}, "u.toml", "analysis[0].")
GroupContrast(variable='sex', pairs=())
>>> usual_contrast({"contrast": True}, (("women", "…"), ("men", "…")), "u.toml", "")
GroupContrast(variable='', pairs=(('men', 'women'),))
"""

from __future__ import annotations

from typing import Any

import polars as pl

from nhanes_mg.derive.registry import schema
from nhanes_mg.study.spec_fields import _fail
from nhanes_mg.study.spec_types import GroupContrast

CONTRAST_STATISTICS = ("mean", "proportion", "ratio")  # those with a joint covariance


def _pairs(value: list[Any], path: str, field: str) -> tuple[tuple[str, str], ...]:
    """``[[a, b], …]``: distinct pairs of two different names."""
    if not value:
        raise _fail(path, field, "needs at least one pair [level, reference]")
    out: list[tuple[str, str]] = []
    for i, pair in enumerate(value):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, str) and x for x in pair)
        ):
            raise _fail(
                path, f"{field}[{i}]", f"must be a pair of names [level, reference], not {pair!r}"
            )
        if pair[0] == pair[1]:
            raise _fail(path, f"{field}[{i}]", f"compares {pair[0]!r} with itself")
        if (pair[0], pair[1]) in out:
            raise _fail(path, f"{field}[{i}]", f"the pair {pair!r} is given twice")
        out.append((pair[0], pair[1]))
    return tuple(out)


def descriptive_contrast(
    raw: dict[str, Any],
    statistic: str,
    by: tuple[str, ...],
    groups: dict[str, str],
    path: str,
    where: str,
) -> GroupContrast | None:
    """A descriptive analysis's ``contrast``: a ``by`` column, or pairs of its levels."""
    if "contrast" not in raw:
        return None
    value, field = raw["contrast"], where + "contrast"
    if statistic not in CONTRAST_STATISTICS:
        raise _fail(
            path,
            field,
            f"group differences need a mean, a proportion or a ratio (their covariance across "
            f"groups), not a {statistic}",
        )
    if isinstance(value, str):
        if value not in by:
            shown = ", ".join(by) or "none"
            raise _fail(path, field, f"{value!r} is not one of the analysis's by columns ({shown})")
        return GroupContrast(value)
    if not isinstance(value, list):
        raise _fail(
            path,
            field,
            f'must be a by column ("sex") or pairs [["female", "male"]], not {value!r}',
        )
    others = [b for b in by if b != "cycle"]
    if len(others) != 1:
        raise _fail(
            path,
            field,
            f"pairs of levels need exactly one by column besides cycle (by = {list(by)}); "
            'name the column instead: contrast = "sex"',
        )
    variable = others[0]
    pairs = _pairs(value, path, field)
    levels = _known_levels(variable, groups)
    if levels is not None:
        for i, pair in enumerate(pairs):
            for level in pair:
                if level not in levels:
                    raise _fail(
                        path,
                        f"{field}[{i}]",
                        f"{level!r} is not a level of {variable} ({', '.join(levels)})",
                    )
    return GroupContrast(variable, pairs)


def _known_levels(variable: str, groups: dict[str, str]) -> list[str] | None:
    """The levels of a categorical column of the analytic dataset (None: known from data)."""
    if variable in groups:
        return None
    dtype = schema().get(variable)
    return list(dtype.categories) if isinstance(dtype, pl.Enum) else None


def usual_contrast(
    raw: dict[str, Any], domains: tuple[tuple[str, str], ...], path: str, where: str
) -> GroupContrast | None:
    """A usual-intake analysis's ``contrast``: pairs of domain labels, ``true`` (each domain
    against the first) or a label (each other domain against it)."""
    if "contrast" not in raw:
        return None
    value, field = raw["contrast"], where + "contrast"
    labels = [label for label, _ in domains]
    if value is False:
        return None
    if len(labels) < 2:
        raise _fail(path, field, "needs at least two domains to compare (domains = [...])")
    if value is True or isinstance(value, str):
        reference = labels[0] if value is True else value
        if reference not in labels:
            raise _fail(path, field, f"{reference!r} is not a domain label ({', '.join(labels)})")
        return GroupContrast("", tuple((x, reference) for x in labels if x != reference))
    if not isinstance(value, list):
        raise _fail(
            path,
            field,
            f"must be true, a domain label or pairs [[domain, reference]], not {value!r}",
        )
    pairs = _pairs(value, path, field)
    for i, pair in enumerate(pairs):
        for label in pair:
            if label not in labels:
                raise _fail(
                    path, f"{field}[{i}]", f"{label!r} is not a domain label ({', '.join(labels)})"
                )
    return GroupContrast("", pairs)
