"""Direct standardization within domains (R's ``svystandardize``) and the 2000 U.S. standard.

``svystandardize(design, by, over, population)`` matches ``survey::svystandardize`` (survey
4.1-1), which is a post-stratification (``postStratify(design, ~by + over, ...,
partial = TRUE)``):

- the rows standardized are those of the design's domain (less the rows with a missing value of
  ``excluding_missing``, R's ``excluding.missing``, which leave the domain);
- within each level ``o`` of ``over`` the weights of the cell ``(a, o)`` (``a`` a level of
  ``by``) are multiplied by ``P_a W_o / W_ao``: ``P_a`` = ``population[a] / sum(population)``,
  ``W_o`` = the weight total of ``o`` and ``W_ao`` that of the cell. Each ``over`` group keeps
  its weight total, distributed over the ``by`` levels as the standard population is, so any
  mean or proportion in an ``over`` group (``svyby(y, over, std, svymean)``) is the directly
  standardized one, ``Σ_a P_a ȳ_ao``;
- the variance is R's ``svyrecvar`` with the post-strata: before the PSU totals, every
  influence value ``x_i`` of a standardized row in cell ``c`` becomes
  ``x_i − w_i Σ_{j∈c} (x_j w⁰_j / w_j) / Σ_{j∈c} w⁰_j`` (``w⁰`` the weights before, ``w``
  after; a row with both 0 has ``w`` taken as 1), over *all* standardized rows of the cell,
  also those outside the estimate's domain or with a missing outcome (as R keeps them in a
  calibrated design). This treats the standard distribution as fixed, which is what makes
  the standard errors those of a directly standardized estimate.

The result is a :class:`StandardizedDesign` (a :class:`SurveyDesign` whose variance applies
the post-stratum adjustment); ``svymean``, ``svytotal``, ``svyciprop``, ``svyratio``,
``svyquantile``, ``svyby``, ``svychisq`` and ``svykm`` use it. ``svyglm`` and ``svycoxph``
compute PSU totals of scores themselves and raise on it (R applies the adjustment there too).

The 2000 U.S. standard population
---------------------------------
``US2000_ADULT``: the NCHS groups for age adjustment of adult NHANES estimates, in thousands:
20-39 years 77,670; 40-59 years 72,816; 60 years and over 45,364 (total 195,850). Sources:

- CDC/NCHS, NHANES Tutorials, Module 7 "Age Standardization and Population Estimates", Task 1
  ("How to Generate Age-Adjusted Prevalence Rates and Means"), table "Example of how to
  calculate standard age proportions": 20-39, 77,670 (thousands) of a total of 195,850 for
  ages 20 and over, proportion .396579 (the 2000 Census population, which NCHS recommends
  for NHANES). https://www.cdc.gov/nchs/tutorials/NHANES/NHANESAnalyses/AgeStandardization/Task1b_SAS91.htm
  (read at http://med.iiab.me/modules/en-cdc/www.cdc.gov/nchs/tutorials/NHANES/NHANESAnalyses/AgeStandardization/Task1b_SAS91.htm);
  https://wwwn.cdc.gov/nchs/nhanes/tutorials/module7.aspx
- R package survey 4.1-1, help page ``?svystandardize``, example "matches
  http://www.cdc.gov/nchs/data/databriefs/db92_fig1.png" (NCHS Data Brief 92):
  ``popage <- c(55901, 77670, 72816, 45364)`` for the NHANES age groups 0-19, 20-39, 40-59,
  60+. The three adult values are those above; they add up to the tutorial's 195,850.

``US2000_STANDARD``: the 2000 U.S. standard population for all ages (11 groups, the NCHS
standard for age-adjusted death rates), in thousands, with the published proportions
``US2000_STANDARD_WEIGHTS``: under 1 year 3,795 (0.013818); 1-4 15,192 (0.055317); 5-14 39,977
(0.145565); 15-24 38,077 (0.138646); 25-34 37,233 (0.135573); 35-44 44,659 (0.162613); 45-54
37,030 (0.134834); 55-64 23,961 (0.087247); 65-74 18,136 (0.066037); 75-84 12,315 (0.044842,
"rounded up instead of down to force total to 1.0"); 85 and over 4,259 (0.015508). Source:
Anderson RN, Rosenberg HM. Age standardization of death rates: implementation of the year 2000
standard. National Vital Statistics Reports vol. 47 no. 3, NCHS, 1998, Table I, as reproduced
at https://www.ncbi.nlm.nih.gov/books/NBK20750/table/A652/ (and, citing Klein RJ, Schoenborn CA,
Age adjustment using the 2000 projected U.S. population, Healthy People 2010 Statistical Notes
no. 20, NCHS, 2001, at https://ibis.doh.nm.gov/resource/AgeAdjustWeights.html).

:func:`nchs_adult_age_group` and :func:`nchs_age_group` label ages with the keys of these
mappings (their sorted order is the age order, as R matches a population vector to sorted
levels).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, cast

import numpy as np
import polars as pl
import scipy.sparse as sp

from nhanes_mg.errors import DesignError, EstimationError
from nhanes_mg.standard_populations import (
    US2000_ADULT as US2000_ADULT,  # re-exported with the sources above
)
from nhanes_mg.standard_populations import (
    US2000_STANDARD,
    US2000_STANDARD_BOUNDS,
)
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning, _label

US2000_STANDARD_WEIGHTS: dict[str, float] = {
    "00": 0.013818,
    "01-04": 0.055317,
    "05-14": 0.145565,
    "15-24": 0.138646,
    "25-34": 0.135573,
    "35-44": 0.162613,
    "45-54": 0.134834,
    "55-64": 0.087247,
    "65-74": 0.066037,
    "75-84": 0.044842,
    "85+": 0.015508,
}
"""The published proportions of :data:`US2000_STANDARD` (they sum to 1)."""

_ALL_AGE_BOUNDS = US2000_STANDARD_BOUNDS[1:]


def nchs_adult_age_group(age: str | pl.Expr = "age") -> pl.Expr:
    """The NCHS adult age group of an age in years: "20-39", "40-59", "60+" (null under 20).

    Examples
    --------
    >>> import polars as pl
    >>> pl.DataFrame({"age": [12.0, 20, 39, 40, 59.5, 60, 85]}).select(
    ...     nchs_adult_age_group("age"))["agecat"].to_list()
    [None, '20-39', '20-39', '40-59', '40-59', '60+', '60+']
    """
    a = pl.col(age) if isinstance(age, str) else age
    return (
        pl.when((a >= 20) & (a < 40))
        .then(pl.lit("20-39"))
        .when((a >= 40) & (a < 60))
        .then(pl.lit("40-59"))
        .when(a >= 60)
        .then(pl.lit("60+"))
        .otherwise(pl.lit(None, pl.String))
        .alias("agecat")
    )


def nchs_age_group(age: str | pl.Expr = "age") -> pl.Expr:
    """The group of :data:`US2000_STANDARD` of an age in years ("00" under 1 … "85+").

    Examples
    --------
    >>> import polars as pl
    >>> pl.DataFrame({"age": [0, 4, 30, 85]}).select(nchs_age_group("age"))["agegroup"].to_list()
    ['00', '01-04', '25-34', '85+']
    """
    a = pl.col(age) if isinstance(age, str) else age
    labels = list(US2000_STANDARD)
    expr: Any = pl.when(a < 0).then(pl.lit(None, pl.String))
    for label, upper in zip(labels, _ALL_AGE_BOUNDS, strict=False):
        expr = expr.when(a < upper).then(pl.lit(label))
    return expr.when(a >= 85).then(pl.lit(labels[-1])).otherwise(None).alias("agegroup")


@dataclass(frozen=True)
class _PostStratum:
    """One post-stratification (R: an element of ``design$postStrata``)."""

    cell: np.ndarray  # full length: post-stratum 0..K-1 of a standardized row, -1 otherwise
    old_weights: np.ndarray  # full length: weights before (R's "oldweights")
    new_weights: np.ndarray  # full length: weights after, 1 where both are 0 (R's psw)
    n_cells: int

    def adjust(self, z: np.ndarray) -> np.ndarray:
        """R's ``x - psmeans[psvar] * psw`` (``z`` is full length, modified in place)."""
        rows = np.flatnonzero(self.cell >= 0)
        cell = self.cell.take(rows)
        psw = self.new_weights.take(rows)
        old = self.old_weights.take(rows)
        part = z.take(rows, axis=0) * (old / psw)[:, None]
        indicator = sp.csr_matrix(
            (np.ones(len(rows)), (cell, np.arange(len(rows)))), shape=(self.n_cells, len(rows))
        )
        means = (indicator @ part) / np.bincount(cell, old, minlength=self.n_cells)[:, None]
        z[rows] -= means.take(cell, axis=0) * psw[:, None]
        return z


class StandardizedDesign(SurveyDesign):
    """A design with directly standardized weights (the result of :func:`svystandardize`).

    It is a :class:`SurveyDesign` (subsets, updates and every estimator work on it) whose
    :meth:`variance` first applies R's post-stratum adjustment of the influence values (see
    the module notes). Attributes ``by``, ``over`` (lists of column names) and
    ``population`` (the standard proportions by level of ``by``).
    """

    _poststrata: tuple[_PostStratum, ...]
    by: list[str]
    over: list[str]
    population: dict[Any, float]

    def _copy(self) -> SurveyDesign:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._memo = {}
        return new

    def variance(self, influence: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`SurveyDesign.variance` of the post-stratum-adjusted influence values."""
        z = np.asarray(influence, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        n = len(self)
        where = self.domain if rows is None else np.asarray(rows)
        if z.shape[0] == n:
            full = z.copy()
        else:
            full = np.zeros((n, z.shape[1]))
            if where.dtype == bool:
                if z.shape[0] != int(np.count_nonzero(where)):
                    raise ValueError(
                        f"influence has {z.shape[0]} rows; expected {n} or {where.sum()}"
                    )
                full[where] = z
            else:
                if z.shape[0] != len(where):
                    raise ValueError(f"influence has {z.shape[0]} rows; expected {len(where)}")
                full[where] = z
        for ps in self._poststrata:
            full = ps.adjust(full)
        totals = self._structure.aggregate @ full
        return SurveyDesign.variance_of_totals(self, np.asarray(totals), where)

    def variance_of_totals(self, totals: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Not available: the post-stratum adjustment needs the row-level influence values."""
        raise EstimationError(
            "this estimator totals its scores by PSU itself and cannot apply the "
            "standardization's variance adjustment (R's postStrata); use it on the design "
            "before svystandardize (e.g. with age in the model)"
        )

    def __repr__(self) -> str:
        over = " + ".join(self.over) if self.over else "1"
        inner = super().__repr__().removeprefix("SurveyDesign(").removesuffix(")")
        return f"StandardizedDesign({inner}, by {' + '.join(self.by)} over {over})"


def _columns(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def _codes(frame: pl.DataFrame, cols: list[str], rows: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes of the combinations of ``cols`` over the full grid of their sorted levels among
    ``rows`` (the first column varying fastest, as R's ``as.data.frame(svytable(...))``)."""
    n = frame.height
    if not cols:
        return np.zeros(n, dtype=np.int64), [()]
    codes = np.zeros(n, dtype=np.int64)
    stride = 1
    all_levels: list[list[Any]] = []
    for col in cols:
        series = frame.get_column(col)
        if series.dtype.is_float():
            series = series.fill_nan(None)
        part = series.filter(pl.Series(rows))
        if part.null_count():
            raise DesignError(
                f"svystandardize: {col!r} has {part.null_count()} missing value(s) among the "
                "rows to standardize (R: postStratify fails); subset them out or pass "
                "excluding_missing"
            )
        levels = part.unique().sort().to_list()
        code = series.replace_strict(
            levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64
        ).to_numpy()
        codes += np.where(rows, code, 0) * stride
        stride *= len(levels)
        all_levels.append(levels)
    # the grid, first column fastest: tuple of levels per code
    grid = [tuple(reversed(t)) for t in product(*reversed(all_levels))]
    return codes, grid


def _proportions(
    population: Mapping[Any, float] | Sequence[float], levels: list[tuple[Any, ...]], by: list[str]
) -> np.ndarray:
    """The standard proportions aligned with the grid of ``by`` levels."""
    if isinstance(population, pl.DataFrame):
        raise DesignError("svystandardize: population must be a mapping or a sequence")
    if isinstance(population, Mapping):
        keyed = {(k if isinstance(k, tuple) else (k,)): float(v) for k, v in population.items()}
        norm = {tuple(_label(v) for v in k): v for k, v in keyed.items()}
        values = []
        missing = []
        for lev in levels:
            key = tuple(_label(v) for v in lev)
            if key in norm:
                values.append(norm.pop(key))
            else:
                missing.append(lev if len(lev) > 1 else lev[0])
        if missing or norm:
            extra = [k if len(k) > 1 else k[0] for k in norm]
            raise DesignError(
                f"svystandardize: the population must give exactly the levels of "
                f"{' + '.join(by)} among the rows to standardize; missing: {missing}, "
                f"not in the data: {extra}"
            )
        pop = np.asarray(values, dtype=float)
    else:
        pop = np.asarray(list(population), dtype=float)
        if pop.shape != (len(levels),):
            raise DesignError(
                f"svystandardize: population has {pop.size} values but {' + '.join(by)} has "
                f"{len(levels)} level(s) among the rows to standardize ({levels}); R matches "
                "them in sorted order"
            )
    if not np.all(np.isfinite(pop)) or np.any(pop < 0) or pop.sum() <= 0:
        raise DesignError("svystandardize: population values must be finite, >= 0, not all 0")
    return cast(np.ndarray, pop / pop.sum())


def svystandardize(
    design: SurveyDesign,
    by: str | Sequence[str],
    over: str | Sequence[str] | None,
    population: Mapping[Any, float] | Sequence[float],
    *,
    excluding_missing: str | Sequence[str] | None = None,
) -> StandardizedDesign:
    """Standardize the distribution of ``by`` within each level of ``over`` (R: ``svystandardize``).

    Parameters
    ----------
    design : SurveyDesign
        The design, possibly a domain: only the domain's rows are standardized (and the result
        keeps that domain).
    by : str or list of str
        The variable(s) whose distribution is standardized (the age groups).
    over : str, list of str or None
        The domains within which to standardize (sex, race/ethnicity, …); ``None`` is R's
        ``over = ~1`` (the whole domain).
    population : mapping or sequence
        Population totals or proportions of the levels of ``by`` (only their ratios matter):
        a mapping level → value (a tuple of levels for several ``by`` columns), or a sequence
        in the sorted order of the levels (R's positional matching), e.g.
        :data:`US2000_ADULT` with ``by`` made by :func:`nchs_adult_age_group`. It must give
        exactly the levels present among the rows standardized.
    excluding_missing : str or list of str, optional
        Variables whose missing rows leave the domain before standardizing (R's
        ``excluding.missing``; NCHS standardizes among the rows with the outcome).

    Returns
    -------
    StandardizedDesign

    Raises
    ------
    DesignError
        A missing ``by``/``over`` value among the rows standardized, a population that does
        not match the levels, or a cell with rows but zero weight (R gives NA weights).

    Warns
    -----
    SurveyWarning
        A ``by`` level absent from an ``over`` group: that cell is ignored (R's
        ``partial = TRUE``), so the group's standardized weights sum to less than its total.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey.design import SurveyDesign
    >>> from nhanes_mg.survey.estimators import svyby, svymean
    >>> rng = np.random.default_rng(2)
    >>> n = 800
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat(np.arange(1, 11), 80), "sdmvpsu": np.tile([1, 2], 400),
    ...     "wt_mec": rng.uniform(1, 3, n), "age": rng.integers(20, 85, n),
    ...     "sex": rng.choice(["1", "2"], n)})
    >>> frame = frame.with_columns(nchs_adult_age_group("age"),
    ...     high=(pl.col("age") / 100 + pl.Series(rng.uniform(0, 1, n)) > 0.9).cast(pl.Float64))
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> std = svystandardize(design, by="agecat", over="sex", population=US2000_ADULT)
    >>> result = svyby("high", "sex", std, svymean)
    >>> result.terms
    ['sex=1: high', 'sex=2: high']
    >>> women = std.domain & (frame["sex"] == "2").to_numpy()
    >>> share = [std.weights[women & (frame["agecat"] == a).fill_null(False).to_numpy()].sum()
    ...          / std.weights[women].sum() for a in US2000_ADULT]
    >>> [round(float(s), 6) for s in share]
    [0.396579, 0.371795, 0.231626]
    """
    if not isinstance(design, SurveyDesign):
        raise DesignError(
            f"svystandardize: design must be a SurveyDesign, not {type(design).__name__}"
        )
    by_cols, over_cols = _columns(by), _columns(over)
    if not by_cols:
        raise DesignError("svystandardize: by needs at least one column")
    needed = [*by_cols, *over_cols, *_columns(excluding_missing)]
    absent = [c for c in needed if c not in design.column_names]
    if absent:
        raise DesignError(f"svystandardize: column(s) not in the design: {', '.join(absent)}")
    frame = design.frame
    rows = design.domain.copy()
    for col in _columns(excluding_missing):
        series = frame.get_column(col)
        present = series.is_not_null()
        if series.dtype.is_float():
            present = present & series.is_not_nan().fill_null(False)
        rows &= present.to_numpy()
    if not rows.any():
        raise DesignError("svystandardize: no row to standardize in the domain")
    by_code, by_levels = _codes(frame, by_cols, rows)
    over_code, over_levels = _codes(frame, over_cols, rows)
    n_by, n_over = len(by_levels), len(over_levels)
    props = _proportions(population, by_levels, by_cols)
    old = design.weights
    idx = np.flatnonzero(rows)
    cell = by_code.take(idx) + n_by * over_code.take(idx)
    w = old.take(idx)
    sample = np.bincount(cell, w, minlength=n_by * n_over)  # R's sampletable
    counts = np.bincount(cell, minlength=n_by * n_over)
    over_total = np.bincount(over_code.take(idx), w, minlength=n_over)  # R's freemargins
    target = np.outer(over_total, props).reshape(-1)  # cell (a, o) at a + n_by * o
    if np.any((target == 0) & (sample > 0)):
        raise DesignError(
            "svystandardize: a cell with sample weight has a zero standard population "
            "(R: 'Strata in sample absent from population')"
        )
    if np.any((sample == 0) & (counts > 0) & (target > 0)):
        raise DesignError(
            "svystandardize: a by x over cell has rows but zero weight: R would give them NA "
            "weights; subset them out"
        )
    absent_cells = (counts == 0) & (target > 0)
    if absent_cells.any():
        warnings.warn(
            f"svystandardize: {int(absent_cells.sum())} by x over cell(s) absent from the "
            "sample are ignored (R: 'Some strata absent from sample: ignored'); their "
            "over groups are not fully standardized",
            SurveyWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(sample > 0, target / sample, 1.0)
    new = old.copy()
    new[idx] = w * factor[cell]
    new.flags.writeable = False
    # post-strata numbered by R's cells that hold rows
    used = np.flatnonzero(counts > 0)
    renumber = np.full(n_by * n_over, -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    ps_cell = np.full(len(old), -1, dtype=np.int64)
    ps_cell[idx] = renumber[cell]
    psw = new.copy()
    both_zero = (psw == 0) & (old == 0)
    psw[both_zero] = 1.0
    stratum = _PostStratum(ps_cell, old.copy(), psw, len(used))
    out = cast(StandardizedDesign, object.__new__(StandardizedDesign))
    out.__dict__.update(design.__dict__)
    out._memo = {}
    out._w = new
    domain = rows.copy()
    domain.flags.writeable = False
    out._domain = domain
    if excluding_missing is not None:
        label = f"complete {', '.join(_columns(excluding_missing))}"
        out._domain_label = label if design._domain_label is None else (
            f"{design._domain_label} & {label}"
        )  # fmt: skip
    out._poststrata = (*getattr(design, "_poststrata", ()), stratum)
    out.by = by_cols
    out.over = over_cols
    out.population = {
        (lev[0] if len(lev) == 1 else lev): float(p)
        for lev, p in zip(by_levels, props, strict=True)
    }
    return out
