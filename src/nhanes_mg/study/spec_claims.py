"""A specification's claim side: the published reference, what each analysis is compared with
(``compare``), the verdict rule and the statements, checked against the analyses they name."""

from __future__ import annotations

from typing import Any

from nhanes_mg.study.spec_fields import (
    _NAME,
    _OLD_RULES,
    COMPARE_FIELDS,
    REFERENCE_FIELDS,
    STATEMENT_FIELDS,
    VERDICT_FIELDS,
    _choice,
    _cycles,
    _fail,
    _get,
    _known_fields,
    _number,
)
from nhanes_mg.study.spec_types import (
    STATISTICS,
    USUAL_BASES,
    USUAL_STATISTICS,
    Analysis,
    Comparator,
    DescriptiveAnalysis,
    ModelAnalysis,
    Reference,
    ReferencePoint,
    Spec,
    Statement,
    UsualIntakeAnalysis,
    VerdictRule,
    _members,
    curve_members,
    judged_rows,
    producible,
)
from nhanes_mg.study.verdicts import DIRECTIONS, RULE_KINDS


def _compare(raw: dict[str, Any], path: str, where: str) -> tuple[Comparator, ...] | None:
    """An analysis's ``compare``: one table or a list of them (``[]``: nothing to compare)."""
    if "compare" not in raw:
        return None
    value = raw["compare"]
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise _fail(path, where + "compare", "must be a table or a list of tables")
    out = []
    for j, item in enumerate(items):
        at = f"{where}compare[{j}]."
        if not isinstance(item, dict):
            raise _fail(path, at[:-1], "must be a table, e.g. { estimate = 0.48, cycle = … }")
        _known_fields(item, COMPARE_FIELDS, path, at)
        text = {k: _get(item, k, str, path, at, False, None) for k in _COMPARE_TEXT}
        comparator = Comparator(
            text=text["text"] or "",
            estimate=_number(item, "estimate", path, at),
            conf_low=_number(item, "conf_low", path, at),
            conf_high=_number(item, "conf_high", path, at),
            **_published_p(item, path, at),
            cycles=_source_cycles(item, path, at),
            **{k: v for k, v in text.items() if k != "text"},
        )
        _published_numbers(comparator.published, path, at)
        if comparator.statistic is not None:
            _choice(comparator.statistic, STATISTICS + USUAL_STATISTICS, path, at + "statistic")
        if comparator.basis is not None:
            _choice(comparator.basis, USUAL_BASES, path, at + "basis")
        out.append(comparator)
    return tuple(out)


_COMPARE_TEXT = ("text", "term", "cycle", "group", "statistic", "basis", "stratum")


def _source_cycles(item: dict[str, Any], path: str, at: str) -> tuple[str, ...]:
    """The cycles a source's estimate is from (``cycles = "2001-2006"``), as years."""
    if "cycles" not in item:
        return ()
    return tuple(c.years for c in _cycles(item["cycles"], path, at + "cycles"))


def _published_p(item: dict[str, Any], path: str, at: str) -> dict[str, Any]:
    """``p_value = 0.03`` or ``p_value = "< 0.001"`` (a bound, as sources print it)."""
    value = _get(item, "p_value", (int, float, str), path, at, False, None)
    if value is None:
        return {}
    below = isinstance(value, str)
    if below:
        text = str(value).replace(" ", "")
        if not text.startswith("<"):
            raise _fail(path, at + "p_value", f'must be a number or "< number", not {value!r}')
        try:
            value = float(text[1:])
        except ValueError:
            raise _fail(
                path, at + "p_value", f'must be a number or "< number", not {item["p_value"]!r}'
            ) from None
    if not 0 < float(value) <= 1:
        raise _fail(path, at + "p_value", f"must lie in (0, 1], not {value}")
    return {"p_value": float(value), "p_below": below}


def _check_estimand(analysis: Analysis, path: str, where: str) -> None:
    """Refuse a comparator whose stated estimand (statistic, basis) is not the analysis's."""
    for j, c in enumerate(analysis.compare or ()):
        at = f"{where}compare[{j}]."
        for key in ("statistic", "basis"):
            stated = getattr(c, key)
            ours = getattr(analysis, key, None)
            if stated is not None and stated != ours:
                raise _fail(
                    path,
                    at + key,
                    f"the source reported {key} {stated!r}, but this analysis estimates "
                    f"{ours!r}: a comparator must report the analysis's own estimand",
                )


def _reference(raw: dict[str, Any], path: str, where: str = "reference.") -> Reference:
    _known_fields(raw, REFERENCE_FIELDS, path, where)
    points = []
    for j, p in enumerate(_get(raw, "points", list, path, where, False, [])):
        pw = f"{where}points[{j}]."
        if not isinstance(p, dict):
            raise _fail(path, pw[:-1], "must be a table")
        low, high = _number(p, "low", path, pw), _number(p, "high", path, pw)
        if low is None and high is None:
            raise _fail(path, pw + "high", "a point needs low or high (or both)")
        points.append(
            ReferencePoint(
                _get(p, "label", str, path, pw),
                float(_get(p, "year", (int, float), path, pw)),
                low,
                high,
            )
        )
    ref = Reference(
        text=_get(raw, "text", str, path, where, False, ""),
        estimate=_number(raw, "estimate", path, where),
        conf_low=_number(raw, "conf_low", path, where),
        conf_high=_number(raw, "conf_high", path, where),
        points=tuple(points),
        cycles=_source_cycles(raw, path, where),
    )
    _published_numbers(ref, path, where)
    return ref


def _published_numbers(ref: Reference, path: str, where: str) -> None:
    if (ref.conf_low is None) != (ref.conf_high is None):
        raise _fail(path, where + "conf_high", "give both conf_low and conf_high, or neither")
    if ref.conf_low is not None and ref.estimate is None:
        raise _fail(path, where + "estimate", "is required with conf_low/conf_high")
    low, high, estimate = ref.conf_low, ref.conf_high, ref.estimate
    if (
        low is not None
        and high is not None
        and estimate is not None
        and not low <= estimate <= high
    ):
        raise _fail(
            path,
            where + "conf_low",
            f"the published interval {low:g}–{high:g} must hold the estimate {estimate:g} "
            "(low ≤ estimate ≤ high)",
        )


def _verdict(
    raw: dict[str, Any], analyses: tuple[Analysis, ...], path: str, where: str = "verdict."
) -> VerdictRule:
    _known_fields(raw, VERDICT_FIELDS, path, where)
    rule = _get(raw, "rule", str, path, where)
    if rule == "p_below":
        raise _fail(
            path,
            where + "rule",
            "'p_below' is retired: a P value alone does not make "
            "a verdict; use rule = 'modification' with direction and stronger_in",
        )
    direction = raw.get("direction")
    if rule in _OLD_RULES:
        rule, implied = _OLD_RULES[rule]
        direction = direction or implied
    _choice(rule, RULE_KINDS, path, where + "rule")
    if direction is None:
        raise _fail(
            path,
            where + "direction",
            "is required: 'above' or 'below' (the side of "
            "no effect, or of the threshold, that the claim states)",
        )
    _choice(
        _get(raw, "direction", str, path, where, False, direction),
        DIRECTIONS,
        path,
        where + "direction",
    )
    names = [a.name for a in analyses]
    target = _get(raw, "analysis", str, path, where)
    if target not in names:
        raise _fail(path, where + "analysis", f"{target!r} is not one of: {', '.join(names)}")
    analysis = analyses[names.index(target)]
    value = _number(raw, "value", path, where)
    if rule == "threshold" and value is None:
        raise _fail(path, where + "value", "is required for rule = 'threshold'")
    stronger_in = raw.get("stronger_in")
    if rule == "modification":
        if not isinstance(analysis, ModelAnalysis) or not analysis.modifier:
            raise _fail(path, where + "analysis", f"{target!r} has no modifier to judge")
        if stronger_in is None:
            raise _fail(
                path,
                where + "stronger_in",
                "is required for rule = 'modification': "
                "'modifier' (where the modifier holds) or 'complement'",
            )
        _choice(
            _get(raw, "stronger_in", str, path, where),
            ("modifier", "complement"),
            path,
            where + "stronger_in",
        )
    elif stronger_in is not None:
        raise _fail(path, where + "stronger_in", "only for rule = 'modification'")
    selectors = {k: _get(raw, k, str, path, where, False, None) for k in ("term", "cycle", "group")}
    if not any(selectors.values()):
        raise _fail(path, where + "term", "is required (or cycle / group): which row to judge")
    smallest = _number(raw, "smallest_effect", path, where)
    if smallest is not None and rule == "threshold":
        raise _fail(path, where + "smallest_effect", "only for an effect or a modification")
    return VerdictRule(
        analysis=target,
        kind=rule,
        direction=direction,  # type: ignore[arg-type]
        value=value,
        stronger_in=stronger_in,
        smallest_effect=smallest,
        **selectors,
    )


def _statements(
    raw: dict[str, Any], analyses: tuple[Analysis, ...], claim: str, path: str
) -> tuple[Statement, ...]:
    """The judged statements: ``[[statement]]`` tables, or the one of ``[verdict]`` and
    ``[reference]`` (both optional: a specification without a verdict only estimates)."""
    listed = _get(raw, "statement", list, path, "", False, None)
    verdict_raw = _get(raw, "verdict", dict, path, "", False, None)
    reference = _reference(_get(raw, "reference", dict, path, "", False, {}), path)
    if listed is None:
        if not verdict_raw:
            return ()
        rule = _verdict(verdict_raw, analyses, path)
        members = _members(verdict_raw, rule, analyses, path, "verdict.")
        return (Statement("", claim, rule, reference, members),)
    if verdict_raw is not None:
        raise _fail(path, "verdict", "give [verdict] (one statement) or [[statement]], not both")
    if not listed:
        raise _fail(path, "statement", "needs at least one [[statement]] table")
    out: list[Statement] = []
    for i, item in enumerate(listed):
        where = f"statement[{i}]."
        if not isinstance(item, dict):
            raise _fail(path, where[:-1], "must be a table ([[statement]])")
        _known_fields(item, STATEMENT_FIELDS, path, where)
        name = _get(item, "name", str, path, where)
        if not _NAME.fullmatch(name):
            raise _fail(path, where + "name", "a statement name is lower case letters, digits, _")
        if name in (s.name for s in out):
            raise _fail(path, where + "name", f"{name!r} is given twice")
        raw_rule = _get(item, "verdict", dict, path, where)
        if "analyses" in raw_rule:
            raise _fail(path, where + "verdict.analyses", "give it as the statement's analyses")
        rule = _verdict(raw_rule, analyses, path, where + "verdict.")
        ordered = _members(item, rule, analyses, path, where)
        out.append(
            Statement(
                name=name,
                text=_get(item, "text", str, path, where),
                verdict=rule,
                reference=_reference(
                    _get(item, "reference", dict, path, where, False, {}),
                    path,
                    where + "reference.",
                ),
                analyses=ordered,
                limits=_get(item, "limits", str, path, where, False, ""),
                secondary=bool(_get(item, "secondary", bool, path, where, False, False)),
            )
        )
    if out[0].secondary:
        raise _fail(
            path, "statement[0].secondary", "the first statement is the claim's primary one"
        )
    return tuple(out)


def _check_source_cycles(
    spec: Spec, analysis: Analysis, comparator: Comparator, where: str, whose: str
) -> None:
    """A published number is held only against estimates from the source's own cycles."""
    if comparator.estimate is None or not comparator.cycles:
        return
    ours = [comparator.cycle] if comparator.cycle else [c.years for c in spec.cycles_of(analysis)]
    outside = [c for c in ours if c not in comparator.cycles]
    if outside:
        raise _fail(
            spec.path,
            where,
            f"{whose} estimates on {', '.join(outside)}, outside the cycles of the estimate it "
            f"is compared with ({', '.join(comparator.cycles)}): give it its own comparator "
            "(compare = { text = … }) or the source's cycles",
        )


def _check_scale(
    spec: Spec, analysis: Analysis, comparator: Comparator, where: str, whose: str
) -> None:
    """A published number lies on its estimate's scale: an odds or hazard ratio above 0, a
    share between 0 and 1."""
    values = (comparator.estimate, comparator.conf_low, comparator.conf_high)
    given = [x for x in values if x is not None]
    if not given:
        return
    ratio = isinstance(analysis, ModelAnalysis) and analysis.model in ("logistic", "cox")
    if ratio and min(given) <= 0:
        raise _fail(
            spec.path,
            where,
            f"{whose} estimates a ratio (odds or hazard), which is above 0: the published "
            f"{', '.join(f'{x:g}' for x in given)} cannot be one",
        )
    shares = isinstance(analysis, UsualIntakeAnalysis) and analysis.statistic != "usual_mean"
    shares = shares or (
        isinstance(analysis, DescriptiveAnalysis) and analysis.statistic == "proportion"
    )
    if shares and not all(0 <= x <= 1 for x in given):
        raise _fail(
            spec.path,
            where,
            f"{whose} estimates a share, written between 0 and 1 (0.48 for 48%): the published "
            f"{', '.join(f'{x:g}' for x in given)} is not",
        )


def _check_rows(spec: Spec) -> None:
    """Every row a statement judges exists among the rows its analysis can produce; a miss
    lists them (a verdict that would read "not estimated" for a typo is refused here)."""
    for i, statement in enumerate(spec.statements):
        where = f"statement[{i}]" if statement.name else "verdict"
        for analysis in curve_members(spec, statement):
            rows = producible(spec, analysis)
            whose = analysis.name + (f" [{analysis.sensitivity}]" if analysis.sensitivity else "")
            for comparator in judged_rows(statement, analysis):
                _check_source_cycles(spec, analysis, comparator, f"{where}.cycles", whose)
                _check_scale(spec, analysis, comparator, f"{where}.estimate", whose)
                for key, known in rows.items():
                    want = getattr(comparator, key)
                    if want is None or known is None or want in known:
                        continue
                    if key == "term" and len(known) == 1:
                        continue  # a renamed single exposure term: it is that row (judge.py)
                    if not known and key != "term":
                        detail = f"{whose} has no {key} column"
                    else:
                        detail = f"{whose} gives {', '.join(repr(k) for k in known)}"
                    raise _fail(spec.path, f"{where}.{key}", f"{want!r} matches no row: {detail}")
