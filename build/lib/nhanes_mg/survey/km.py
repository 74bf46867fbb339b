"""Survey-weighted survival curves (R's ``svykm``).

Matches ``survey:::svykm.survey.design`` (survey 4.1-1); each group is a domain of the design
(``subset(design, group == g)``), rows with a missing time, status or group are left out.

``se=True`` is R's ``km.stderr``: the curve is ``S(t) = exp(-H(t))`` with ``H`` the weighted
Nelson-Aalen (Breslow) cumulative hazard, ``H(t) = Σ_{event times s ≤ t} D(s) / Y(s)``
(``D`` = weighted events at ``s``, ``Y`` = weighted number at risk, time ≥ ``s``), and
``varlog = Var(H(t)) = Var(log S(t))`` is the linearization variance of ``H`` as a function of
the weighted totals of the event indicators and of the risk-set indicators (R computes the
covariance of all those totals with ``svytotal`` and sums its delta-method blocks; here the
influence values of ``H(t)`` itself, ``w_i (dN_i(t)/Y − Σ_{s ≤ min(t, T_i)} D(s)/Y(s)²)``, go to
the design's variance: the same quadratic form). Rows with weight 0 add no event time.
Note this is not the product-limit estimate: R's ``svykm(..., se = TRUE)`` reports exp(-H).

``se=False`` is R's ``svykm.fit``: the weighted product-limit (Kaplan-Meier) estimate
``Π (1 − D(s)/Y(s))`` at time 0 and at every distinct time (events and censorings).

Intervals are R's ``confint.svykm``: ``exp(log S(t) ∓ z sqrt(varlog(t)))`` with the normal
quantile ``z``, the upper bound capped at 1 (a log-scale interval; no design df).
``std_error`` is the delta-method SE of the survival, ``S(t) sqrt(varlog(t))``;
``std_error_log`` is R's ``sqrt(varlog)``.

R's curve with ``se=True`` has one entry per event row, repeating the time of tied events (the
earlier entries of a tie are partial sums); the result here has one row per distinct event
time, the value after all its events (what ``confint``/``predict`` of R use at that time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import ndtri

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.design import SurveyDesign, Variable, _label, _name

KM_SCHEMA: dict[str, pl.DataType] = {
    "group": pl.String(),
    "time": pl.Float64(),
    "survival": pl.Float64(),
    "std_error": pl.Float64(),
    "std_error_log": pl.Float64(),
    "conf_low": pl.Float64(),
    "conf_high": pl.Float64(),
    "n_risk": pl.Int64(),
    "n_event": pl.Int64(),
}

_CHUNK_CELLS = 4_000_000  # influence values per block of times (memory bound of the variance)


@dataclass
class SvyKMResult:
    """Survival curves by group (R's ``svykm`` / ``svykmlist``).

    Attributes
    ----------
    curves : polars.DataFrame
        One row per time of each curve: ``group`` (null without groups), ``time``,
        ``survival``, ``std_error``, ``std_error_log``, ``conf_low``, ``conf_high`` (null when
        ``se=False``), ``n_risk`` (rows with positive weight at risk), ``n_event`` (events with
        positive weight at that time).
    se : bool
        Whether the curves are R's ``se=TRUE`` estimates (exp(-H) with variances).
    level : float
        Confidence level of the intervals.
    group : str or None
        The grouping variable.
    """

    curves: pl.DataFrame
    se: bool
    level: float
    group: str | None

    def tidy(self) -> pl.DataFrame:
        """The curves (see :attr:`curves`)."""
        return self.curves

    def at(self, times: Sequence[float]) -> pl.DataFrame:
        """The curves at given times (R: ``confint(s, parm = times)`` and the step function).

        The value at ``t`` is that of the last curve time ≤ ``t``. Before the first time of a
        curve the survival is 1 with SE 0 (R raises there). Columns as :attr:`curves` without
        the counts.
        """
        out: list[dict[str, object]] = []
        before = 0.0 if self.se else None  # before the first time: S = 1, SE 0 (se=True)
        for (label,), part in self.curves.group_by("group", maintain_order=True):
            t = part["time"].to_numpy()
            for when in times:
                pos = int(np.searchsorted(t, when, side="right")) - 1
                row: dict[str, object] = {"group": label, "time": float(when)}
                if pos < 0:
                    one = 1.0 if self.se else None
                    row |= {"survival": 1.0, "std_error": before, "std_error_log": before,
                            "conf_low": one, "conf_high": one}  # fmt: skip
                else:
                    rec = part.row(pos, named=True)
                    row |= {k: rec[k] for k in KM_SCHEMA if k not in row and not k.startswith("n_")}
                out.append(row)
        schema = {k: v for k, v in KM_SCHEMA.items() if k not in ("n_risk", "n_event")}
        return pl.DataFrame(out, schema=schema)


def svykm(
    time: Variable,
    event: Variable,
    design: SurveyDesign,
    group: str | None = None,
    se: bool = True,
    *,
    level: float = 0.95,
) -> SvyKMResult:
    """Survey-weighted survival curves (R: ``svykm(Surv(time, event) ~ group, design, se)``).

    Parameters
    ----------
    time : str or polars.Expr
        Follow-up time (e.g. months from the exam, ``PERMTH_EXM``).
    event : str or polars.Expr
        1 (or True) for an event, 0 for a censored time (e.g. ``MORTSTAT``).
    design : SurveyDesign
        The design, possibly a domain (eligible adults): only its rows are used.
    group : str, optional
        A column whose levels (sorted) each get a curve; ``None`` gives one curve.
    se : bool
        ``True`` (the default here; R's default is ``FALSE``): exp(-cumulative hazard) with
        design-based standard errors and intervals; ``False``: the weighted product-limit
        estimate without standard errors. See the module notes.
    level : float
        Confidence level of the intervals (normal quantile on the log scale, as R).

    Returns
    -------
    SvyKMResult
        ``.tidy()`` (one row per time and group) and ``.at(times)``.

    Raises
    ------
    EstimationError
        An event value other than 0/1, a negative time, no complete row in the domain.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey.design import SurveyDesign
    >>> rng = np.random.default_rng(4)
    >>> n = 500
    >>> t = rng.exponential(200, n)
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat(np.arange(1, 11), 50), "sdmvpsu": np.tile([1, 2], 250),
    ...     "wt_mec": rng.uniform(1, 3, n), "months": np.minimum(np.ceil(t), 120),
    ...     "died": (t <= 120).astype(int), "sex": rng.choice(["1", "2"], n)})
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> curves = svykm("months", "died", design, group="sex")
    >>> curves.tidy().columns[:7]
    ['group', 'time', 'survival', 'std_error', 'std_error_log', 'conf_low', 'conf_high']
    >>> at = curves.at([60])
    >>> at["group"].to_list(), bool(((at["conf_low"] < at["survival"])
    ...                              & (at["survival"] < at["conf_high"])).all())
    (['1', '2'], True)
    """
    if not isinstance(design, SurveyDesign):
        raise EstimationError(
            f"svykm: design must be a SurveyDesign (Taylor linearization), not "
            f"{type(design).__name__}"
        )
    if not 0 < level < 1:
        raise EstimationError(f"svykm: level must be in (0, 1), not {level}")
    t_all = design.values(time)
    e_all = design.values(event)
    complete = design.domain & ~np.isnan(t_all) & ~np.isnan(e_all)
    labels: list[str | None] = [None]
    codes = np.zeros(len(design), dtype=np.int64)
    if group is not None:
        series = design.frame.get_column(group) if isinstance(group, str) else None
        if series is None:
            raise EstimationError("svykm: group must be a column name")
        if series.dtype.is_float():
            series = series.fill_nan(None)
        complete &= series.is_not_null().to_numpy()
        levels = series.filter(pl.Series(complete)).unique().sort().to_list()
        codes = series.replace_strict(
            levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64
        ).to_numpy()
        labels = [_label(v) for v in levels]
    if not complete.any():
        raise EstimationError("svykm: no row of the domain has a time and an event")
    e_used = e_all[complete]
    if not np.all((e_used == 0) | (e_used == 1)):
        raise EstimationError(f"svykm: {_name(event)!r} must be 0/1 (or boolean)")
    if np.any(t_all[complete] < 0):
        raise EstimationError(f"svykm: {_name(time)!r} has negative times")
    z = -float(ndtri((1 - level) / 2))
    parts = []
    for k, label in enumerate(labels):
        rows = complete & (codes == k) if group is not None else complete
        fit = _curve_se if se else _curve_pl
        part = fit(design, rows, t_all, e_all, z)
        parts.append(part.with_columns(pl.lit(label, pl.String).alias("group")))
    curves = pl.concat(parts).select(list(KM_SCHEMA)).cast(KM_SCHEMA)  # type: ignore[arg-type]
    return SvyKMResult(curves=curves, se=se, level=level, group=group)


def _at_risk(times: np.ndarray, t: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(weighted, unweighted-with-positive-weight) number with time ≥ each of ``times``."""
    order = np.argsort(t, kind="stable")
    ts, ws = t[order], w[order]
    first = np.searchsorted(ts, times, side="left")
    tail_w = np.concatenate((np.cumsum(ws[::-1])[::-1], [0.0]))
    tail_n = np.concatenate((np.cumsum((ws[::-1] > 0).astype(np.int64))[::-1], [0]))
    return tail_w[first], tail_n[first]


def _curve_pl(
    design: SurveyDesign, rows: np.ndarray, t_all: np.ndarray, e_all: np.ndarray, z: float
) -> pl.DataFrame:
    """R's ``svykm.fit``: the weighted product-limit estimate at 0 and every distinct time."""
    idx = np.flatnonzero(rows)
    t, s, w = t_all[idx], e_all[idx], design.weights[idx]
    tt, inverse = np.unique(t, return_inverse=True)
    d = np.bincount(inverse, s * w, minlength=len(tt))
    n_t = np.bincount(inverse, w, minlength=len(tt))
    total = w.sum()
    at_risk = np.concatenate(([total, total], total - np.cumsum(n_t[:-1])))
    dd = np.concatenate(([0.0], d))
    surv = np.maximum(0.0, np.cumprod(1 - dd / at_risk))
    times = np.concatenate(([0.0], tt))
    _, n_risk = _at_risk(times, t, w)
    n_event = np.concatenate(([0], np.bincount(inverse, (s == 1) & (w > 0), len(tt)))).astype(
        np.int64
    )
    nulls = np.full(len(times), np.nan)
    return pl.DataFrame(
        {
            "time": times,
            "survival": surv,
            "std_error": nulls,
            "std_error_log": nulls,
            "conf_low": nulls,
            "conf_high": nulls,
            "n_risk": n_risk,
            "n_event": n_event,
        }
    ).fill_nan(None)


def _curve_se(
    design: SurveyDesign, rows: np.ndarray, t_all: np.ndarray, e_all: np.ndarray, z: float
) -> pl.DataFrame:
    """R's ``km.stderr``: exp(-Nelson-Aalen) and the linearization variance of its log."""
    idx = np.flatnonzero(rows)
    t, s, w = t_all[idx], e_all[idx], design.weights[idx]
    keep = (s == 1) & (w != 0)
    tau = np.unique(t[keep])
    m = len(tau)
    if m == 0:
        return pl.DataFrame(
            {k: pl.Series([], dtype=v) for k, v in KM_SCHEMA.items() if k != "group"}
        )
    e_pos = np.searchsorted(tau, t)  # time index of an event row (valid where keep)
    deaths = np.bincount(e_pos[keep], w[keep], minlength=m)
    y, n_risk = _at_risk(tau, t, w)
    hazard = np.cumsum(deaths / y)
    c_pad = np.concatenate(([0.0], np.cumsum(deaths / y**2)))
    last = np.searchsorted(tau, t, side="right") - 1  # last event time <= t (-1: none)
    inv_y_event = np.where(keep, 1.0 / y[np.minimum(e_pos, m - 1)], 0.0)
    varlog = np.empty(m)
    chunk = max(1, _CHUNK_CELLS // max(len(idx), 1))
    for k0 in range(0, m, chunk):
        ks = np.arange(k0, min(m, k0 + chunk))
        jump = np.where(keep[:, None] & (e_pos[:, None] <= ks[None, :]), inv_y_event[:, None], 0.0)
        comp = c_pad[np.minimum(ks[None, :], last[:, None]) + 1]
        influence = w[:, None] * (jump - comp)
        varlog[ks] = np.diag(design.variance(influence, idx))
    surv = np.exp(-hazard)
    se_log = np.sqrt(np.maximum(varlog, 0.0))
    n_event = np.bincount(e_pos[keep], minlength=m).astype(np.int64)
    return pl.DataFrame(
        {
            "time": tau,
            "survival": surv,
            "std_error": surv * se_log,
            "std_error_log": se_log,
            "conf_low": np.exp(np.log(surv) - z * se_log),
            "conf_high": np.minimum(np.exp(np.log(surv) + z * se_log), 1.0),
            "n_risk": n_risk,
            "n_event": n_event,
        }
    )
