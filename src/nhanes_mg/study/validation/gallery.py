"""Targets (published estimates, one TOML specification each) and the gallery that runs them.

A target is a specification in the package's language
(:func:`nhanes_mg.study.spec.parse_spec`) plus a
``[validation]`` table that this module removes before parsing:

.. code-block:: toml

    [reference]                  # the published value as printed (scale below)
    text = "7.6% (95% CI 6.0%, 9.6%)"
    estimate = 7.6
    conf_low = 6.0               # a printed 95% CI, when there is one
    conf_high = 9.6

    [validation]
    label = "adults 20–39, 2011–14"   # the target's row in the figure
    topic = "Vitamin D status"        # the figure's panel, the table's grouping
    table = "Table 1"                 # where in the source
    scale = "percent"                 # percent | share | a unit ("mg/day"): see below
    published_se = 0.9                # a printed SE, when there is one
    rounding = 0.1                    # the printed value's rounding unit (default 0)
    published_n = 16180               # the source's sample size, when printed
    definition = "…"                  # the estimate in words
    analysis = "estimate"             # which row of our table: analysis (default: the first),
    term = "usual intake"             # … and term / cycle / group when several rows remain
    standardized = true               # the age-standardized row (the analysis must have
                                      # age_standardize), not the crude one
    requires = "usual intake for any domain (issue 13)"   # a feature the target needs
    read = [{ url = "…", what = "what was read there" }]
    assay = "…"                       # free text kept with the target

``scale = "percent"``: the source prints shares as percentages; the published numbers are as
printed and our shares are multiplied by 100. ``"share"`` (the default for a proportion): shares
are 0–1 on both sides. Any other text names the unit of a quantity compared as is.

A target whose specification the language cannot parse yet, and that names the missing feature
in ``requires``, is *not estimated* with the reason ``needs {requires}``; any other malformed
target is an error (:class:`~nhanes_mg.errors.SpecError`), as a malformed claim is.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.errors import CatalogError, NhanesError, SpecError
from nhanes_mg.study import spec_fields
from nhanes_mg.study.spec import parse_spec
from nhanes_mg.study.spec_types import USUAL_STATISTICS, Spec, UsualIntakeAnalysis
from nhanes_mg.study.validation import rules

_FIELDS = {
    "label",
    "topic",
    "table",
    "scale",
    "published_se",
    "rounding",
    "published_n",
    "definition",
    "analysis",
    "term",
    "cycle",
    "group",
    "requires",
    "read",
    "assay",
    "standardized",
}

# The gallery's table: the columns the issue asks for, then what helps reading them.
SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "topic": pl.String,
    "source": pl.String,
    "definition": pl.String,
    "published": pl.Float64,
    "published_se": pl.Float64,
    "published_low": pl.Float64,
    "published_high": pl.Float64,
    "ours": pl.Float64,
    "our_se": pl.Float64,
    "our_low": pl.Float64,
    "our_high": pl.Float64,
    "difference": pl.Float64,
    "z": pl.Float64,
    "status": pl.String,
    "reason": pl.String,
    "label": pl.String,
    "unit": pl.String,
    "where": pl.String,  # the source's table or figure
    "cycles": pl.String,
    "n": pl.Int64,
    "published_n": pl.Int64,
}
COLUMNS: tuple[str, ...] = tuple(SCHEMA)


@dataclass(frozen=True)
class Target:
    """One published estimate to reproduce: its specification and how to compare."""

    id: str
    path: str
    text: str  # the file's text: what a stored result depends on
    spec: Spec | None  # None when the language cannot express it yet (see ``error``)
    error: str | None = None
    title: str = ""
    source: str = ""
    label: str = ""
    topic: str = ""
    table: str = ""
    scale: str = ""
    published: float | None = None
    published_se: float | None = None
    published_low: float | None = None
    published_high: float | None = None
    rounding: float = 0.0
    published_n: int | None = None
    definition: str = ""
    selector: dict[str, str] = field(default_factory=dict)
    standardized: bool = False  # compare the age-standardized row, not the crude one
    requires: str = ""
    read: tuple[tuple[str, str], ...] = ()  # (url, what was read there)

    @property
    def unit(self) -> str:
        return {"percent": "%", "share": "share"}.get(self.scale, self.scale)


def shipped_target_paths() -> list[Path]:
    """The shipped targets (``nhanes_mg/study/validation/targets/*.toml``), in id order."""
    folder = resources.files("nhanes_mg.study.validation") / "targets"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml"))


def load_targets(paths: Iterable[str | Path] | None = None) -> list[Target]:
    """The shipped targets, or the files given (each a target); ids must be unique."""
    targets = [load_target(p) for p in (shipped_target_paths() if paths is None else paths)]
    seen: dict[str, str] = {}
    for t in targets:
        if t.id in seen:
            raise SpecError(f"{t.path}: field 'id': {t.id!r} is also the id of {seen[t.id]}")
        seen[t.id] = t.path
    return targets


def load_target(path: str | Path) -> Target:
    """Read one target file (see the module docstring); raises :class:`SpecError`."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: target file not found")
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: is not valid TOML ({exc})") from exc
    return parse_target(raw, str(path), text)


def parse_target(raw: dict[str, Any], path: str = "<target>", text: str = "") -> Target:
    """A target from a parsed TOML table (the ``[validation]`` table is taken out first)."""
    raw = dict(raw)
    if "validation" not in raw:  # a claim's specification is no target: its numbers differ
        raise SpecError(
            f"{path}: field 'validation': is required — a target says which row of which "
            "analysis reproduces the published value ([validation] with analysis, term …); "
            "a claim's specification is run with `nhanes-mg run --spec`"
        )
    val = raw.pop("validation")
    if not isinstance(val, dict):
        raise SpecError(f"{path}: field 'validation': must be a table ([validation])")
    unknown = sorted(set(val) - _FIELDS)
    if unknown:
        raise SpecError(
            f"{path}: field 'validation.{unknown[0]}': unknown field; allowed: "
            f"{', '.join(sorted(_FIELDS))}"
        )
    ref = raw.get("reference", {}) if isinstance(raw.get("reference"), dict) else {}
    published = _number(ref, "estimate", path, "reference.")
    if published is None:
        raise SpecError(f"{path}: field 'reference.estimate': a target needs the published value")
    requires = _text(val, "requires", path)
    spec: Spec | None = None
    error: str | None = None
    missing = _not_yet_expressible(raw)
    if missing and requires:
        error = f"needs {requires}: the specification language has no {' and no '.join(missing)}"
    elif requires:
        try:
            spec = parse_spec(raw, path)
        except SpecError as exc:  # the feature it needs came in another form than expected
            error = f"needs {requires}: {exc}"
    else:
        spec = parse_spec(raw, path)  # a target that needs nothing new must parse
    low, high = (_number(ref, k, path, "reference.") for k in ("conf_low", "conf_high"))
    if (low is None) != (high is None):
        raise SpecError(f"{path}: field 'reference.conf_high': give both conf_low and conf_high")
    read = []
    for i, item in enumerate(val.get("read", [])):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise SpecError(f"{path}: field 'validation.read[{i}]': must be {{ url, what }}")
        read.append((item["url"], str(item.get("what", ""))))
    n = val.get("published_n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise SpecError(f"{path}: field 'validation.published_n': must be a whole number")
    rounding = _number(val, "rounding", path, "validation.") or 0.0
    if rounding < 0:
        raise SpecError(f"{path}: field 'validation.rounding': must not be negative")
    selector = {k: _text(val, k, path) for k in ("analysis", "term", "cycle", "group")}
    if spec is not None and selector["analysis"]:
        names = [a.name for a in spec.analyses]
        if selector["analysis"] not in names:
            raise SpecError(
                f"{path}: field 'validation.analysis': {selector['analysis']!r} is not one of: "
                f"{', '.join(names)}"
            )
    standardized = val.get("standardized", False)
    if not isinstance(standardized, bool):
        raise SpecError(f"{path}: field 'validation.standardized': must be true or false")
    if spec is not None and standardized:
        chosen = spec.analysis(selector["analysis"] or spec.analyses[0].name)
        if getattr(chosen, "age_standardize", None) is None:
            raise SpecError(
                f"{path}: field 'validation.standardized': analysis {chosen.name!r} has no "
                "age_standardize, so there is no age-standardized row to compare"
            )
    tid = raw.get("id")
    if not isinstance(tid, str) or not tid:
        raise SpecError(f"{path}: field 'id': is required")
    return Target(
        id=tid,
        path=path,
        text=text,
        spec=spec,
        error=error,
        title=str(raw.get("title", "")),
        source=str(raw.get("source", "")) or str(raw.get("citation", "")),
        label=_text(val, "label", path) or tid,
        topic=_text(val, "topic", path) or "other",
        table=_text(val, "table", path),
        scale=_text(val, "scale", path),
        published=published,
        published_se=_number(val, "published_se", path, "validation."),
        published_low=low,
        published_high=high,
        rounding=rounding,
        published_n=n,
        definition=_text(val, "definition", path) or str(raw.get("title", "")),
        selector={k: v for k, v in selector.items() if v},
        standardized=standardized,
        requires=requires,
        read=tuple(read),
    )


def _not_yet_expressible(raw: dict[str, Any]) -> list[str]:
    """What a target's analyses ask for that the specification language cannot say yet:
    usual-intake ``domains`` (SQL conditions), pooled cycles (``pool``) and usual-intake
    statistics it does not know."""
    usual_fields: set[str] = set(spec_fields.USUAL_FIELDS)
    missing = []
    for analysis in raw.get("analysis", []) if isinstance(raw.get("analysis"), list) else []:
        if not isinstance(analysis, dict):
            continue
        statistic = str(analysis.get("statistic", ""))
        if statistic.startswith("usual_") and statistic not in USUAL_STATISTICS:
            missing.append(f"statistic {statistic!r}")
        if "domains" in analysis and "domains" not in usual_fields:
            missing.append("usual-intake domains")
        if "pool" in analysis and "pool" not in usual_fields:
            missing.append("pooled cycles in a usual-intake analysis")
    return missing


def _is_range(text: str) -> bool:
    try:
        catalog.parse_cycles(text)
    except CatalogError:
        return False
    return True


def _text(table: dict[str, Any], key: str, path: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise SpecError(f"{path}: field 'validation.{key}': must be text, not {value!r}")
    return value


def _number(table: dict[str, Any], key: str, path: str, where: str) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{path}: field '{where}{key}': must be a number, not {value!r}")
    return float(value)


# ---------------------------------------------------------------------------------- run


def expected_path() -> Path:
    """The committed expectations: each shipped target's status, and why it is off."""
    return Path(str(resources.files("nhanes_mg.study.validation") / "expected.toml"))


def load_expected(path: str | Path | None = None) -> dict[str, dict[str, str]]:
    """``{id: {"status": …, "reason": …}}`` from the expectations file."""
    path = Path(path) if path is not None else expected_path()
    if not path.is_file():
        return {}
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, dict[str, str]] = {}
    for tid, entry in raw.items():
        if not isinstance(entry, dict) or entry.get("status") not in rules.STATUSES:
            raise SpecError(f"{path}: [{tid}]: status must be one of: {', '.join(rules.STATUSES)}")
        out[tid] = {"status": str(entry["status"]), "reason": str(entry.get("reason", ""))}
    return out


def run_validation(
    frame: pl.DataFrame,
    targets: Sequence[Target | str | Path] | None = None,
    expected: dict[str, dict[str, str]] | None = None,
    gaps: list[dict[str, object]] | None = None,
    data_dir: str | Path | None = None,
) -> pl.DataFrame:
    """Each target re-estimated on the analytic ``frame`` beside its published value.

    Writes nothing. ``targets``: :class:`Target` objects or target files (default: the shipped
    ones). Returns one row per target (columns :data:`COLUMNS`, on the published scale) with
    its status (:mod:`nhanes_mg.study.validation.rules`); the reason of an *off* target is the
    sentence recorded for it in ``expected`` (default: the committed expectations file), the
    reason of a *not estimated* one says what is missing. ``gaps``: the build's missing
    tables (``BuildResult.gaps``); a target that needs one is not estimated, never estimated
    quietly on the other cycles. ``data_dir``: where the tables of a target's own
    ``[variables]`` are read (as a specification's are); a target declaring a table column
    without one is not estimated.
    """
    chosen = (
        load_targets()
        if targets is None
        else [t if isinstance(t, Target) else load_target(t) for t in targets]
    )
    reasons = load_expected() if expected is None else expected
    estimated = _estimate(chosen, frame, gaps or [], data_dir)
    rows = [
        _row(t, estimated.get(t.id, (None, t.error or "")), reasons.get(t.id, {}).get("reason", ""))
        for t in chosen
    ]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row").sort("id")


_SEP = "::"  # target id :: analysis name, in the merged specifications


def _estimate(
    targets: Sequence[Target],
    frame: pl.DataFrame,
    gaps: list[dict[str, object]],
    data_dir: str | Path | None = None,
) -> dict[str, tuple[dict[str, Any] | None, str]]:
    """Every target's estimate (or why there is none), by id.

    Targets with the same population and the same ``[variables]`` run as one merged
    specification, their analyses renamed ``{id}::{name}`` and given their cycles: the
    usual-intake analyses among them then share one NCI estimation per nutrient, cycles,
    weight and replicates (every domain, basis and statistic from it), as the analyses of one
    claim do (:func:`nhanes_mg.study.analyses.run_spec`).
    """
    # lazy: the survey engine is loaded only to estimate (a stored gallery is read back)
    from nhanes_mg.study import declared
    from nhanes_mg.study.analyses import run_spec

    out: dict[str, tuple[dict[str, Any] | None, str]] = {}
    groups: dict[tuple[str, str], list[Target]] = {}
    for t in targets:
        if t.spec is None:
            out[t.id] = (None, t.error or "the specification cannot be parsed")
            continue
        groups.setdefault((t.spec.population, repr(t.spec.variables)), []).append(t)
    for members in groups.values():
        merged = _merge([t.spec for t in members if t.spec is not None], [t.id for t in members])
        own = frame
        if merged.variables:
            if data_dir is None and any(v.table for v in merged.variables):
                for t in members:
                    out[t.id] = (None, "its [variables] are read from a data dir; none was given")
                continue
            own = declared.attach(frame, merged, data_dir or ".")
        try:
            result = run_spec(merged, own, gaps)
        except SpecError:
            raise
        except NhanesError as exc:
            for t in members:
                out[t.id] = (None, str(exc))
            continue
        for t in members:
            out[t.id] = _select(t, result)
    return out


def _merge(specs: list[Spec], ids: list[str]) -> Spec:
    """One specification holding every analysis of ``specs`` (same population), each renamed
    ``{id}::{name}`` and given its cycles; sensitivity analyses and verdicts are not part of a
    target's comparison and are left out."""
    analyses = [
        replace(a, name=f"{tid}{_SEP}{a.name}", cycles=spec.cycles_of(a))
        for spec, tid in zip(specs, ids, strict=True)
        for a in spec.analyses
    ]
    cycles = sorted({c for s in specs for c in s.cycles}, key=lambda c: c.begin)
    return replace(
        specs[0],
        id="validation" if len(specs) > 1 else specs[0].id,
        path="" if len(specs) > 1 else specs[0].path,
        analyses=tuple(analyses),
        sensitivities=(),
        verdict=None,
        cycles=tuple(cycles),
    )


def _select(target: Target, result: Any) -> tuple[dict[str, Any] | None, str]:
    """Our estimate of one target from the merged result, on the published scale (estimate,
    std_error, conf_low, conf_high, n), or None and why not."""
    spec = target.spec
    assert spec is not None
    own = target.selector.get("analysis") or spec.analyses[0].name
    name = f"{target.id}{_SEP}{own}"
    fit = result.fit(name)
    if fit is not None and fit.error:
        return None, fit.error
    role = "age-standardized" if target.standardized else "estimate"
    rows = result.table.filter(
        (pl.col("analysis") == name) & pl.col("sensitivity").is_null() & (pl.col("role") == role)
    )
    for key in ("term", "cycle", "group"):
        if key in target.selector:
            rows = rows.filter(pl.col(key) == target.selector[key])
    cycle = target.selector.get("cycle", "")
    have = sorted(set(result.table.filter(pl.col("analysis") == name)["cycle"].drop_nulls()))
    if rows.height == 0 and cycle and cycle not in have:
        pooled = len(catalog.parse_cycles(cycle)) > 1 if _is_range(cycle) else False
        if pooled and isinstance(spec.analysis(own), UsualIntakeAnalysis):
            return None, (
                f"needs pooled cycles in a usual-intake analysis: the published estimate pools "
                f"{cycle}; ours has {', '.join(have)}"
            )
        return None, f"our table has no row for cycle {cycle!r} (it has {', '.join(have)})"
    if rows.height == 0 and target.standardized:
        return None, ("no age-standardized row: none of the standard's age groups is in the domain")
    if rows.height != 1:
        wanted = ", ".join(f"{k} = {v!r}" for k, v in target.selector.items()) or "no selector"
        what = "no row" if rows.height == 0 else f"{rows.height} rows"
        return None, f"{what} of our table match ({wanted}); set term/cycle/group in [validation]"
    row = rows.row(0, named=True)
    factor, problem = _factor(target, row["scale"])
    if problem:
        return None, problem

    def scaled(x: object) -> float | None:
        return float(x) * factor if isinstance(x, int | float) and math.isfinite(x) else None

    left_out = tuple(f"{cycle} ({why})" for cycle, why in fit.dropped) if fit else ()
    return {
        "estimate": scaled(row["estimate"]),
        "std_error": scaled(row["std_error"]),
        "conf_low": scaled(row["conf_low"]),
        "conf_high": scaled(row["conf_high"]),
        "n": row["n"],
        "left_out": left_out,
    }, ""


def _factor(target: Target, scale: str | None) -> tuple[float, str | None]:
    """What our estimate is multiplied by to reach the published scale (or why it cannot)."""
    if scale == "proportion":
        if target.scale == "percent":
            return 100.0, None
        if target.scale in ("", "share"):
            return 1.0, None
        return 1.0, f"our row is a share but the published scale is {target.scale!r}"
    if target.scale in ("percent", "share"):
        return 1.0, f"the published value is a share but our row is a {scale}"
    return 1.0, None


def _row(
    target: Target, estimated: tuple[dict[str, Any] | None, str], off_reason: str
) -> list[object]:
    base: dict[str, object] = {c: None for c in COLUMNS}
    base.update(
        id=target.id,
        topic=target.topic,
        source=target.source,
        definition=target.definition,
        published=target.published,
        published_se=target.published_se,
        label=target.label,
        unit=target.unit,
        where=target.table,
        published_n=target.published_n,
    )
    if target.spec is not None:
        base["cycles"] = target.spec.cycles_text
    ours, why = estimated
    assert target.published is not None
    if ours is None:
        judged = rules.judge(
            target.published,
            target.published_se,
            target.published_low,
            target.published_high,
            None,
            None,
            target.rounding,
        )
        base.update(
            published_low=judged.low,
            published_high=judged.high,
            status=rules.NOT_ESTIMATED,
            reason=why,
        )
        return [base[c] for c in COLUMNS]
    judged = rules.judge(
        target.published,
        target.published_se,
        target.published_low,
        target.published_high,
        ours["estimate"],
        ours["std_error"],
        target.rounding,
        n=ours["n"],
        published_n=target.published_n,
        left_out=ours["left_out"],
    )
    reason = ""
    if judged.status == rules.DEFINITION_DIFFERS:
        reason = "; ".join(judged.differs) + ": another population"
        reason += f" ({off_reason})" if off_reason else ""
    elif judged.status == rules.OFF:
        reason = off_reason or "off; no likely reason recorded in validation/expected.toml"
    base.update(
        ours=ours["estimate"],
        our_se=ours["std_error"],
        our_low=ours["conf_low"],
        our_high=ours["conf_high"],
        n=ours["n"],
        published_low=judged.low,
        published_high=judged.high,
        difference=judged.difference,
        z=judged.z,
        status=judged.status,
        reason=reason,
    )
    return [base[c] for c in COLUMNS]
