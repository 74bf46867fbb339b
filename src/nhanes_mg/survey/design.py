"""Stratified, clustered survey designs (R's ``svydesign(ids=~psu, strata=~strata, nest=TRUE)``).

The variance estimator is Taylor linearization with the with-replacement ("ultimate cluster")
approximation, exactly as R's ``survey::svyrecvar`` computes it for a one-stage design without
finite-population correction: influence values are summed to PSU totals, centred on their stratum
mean and combined with the factor ``n_h / (n_h - 1)``.

Domains follow ``subset.survey.design``: a subset keeps every row of the full design (the PSU
count of each stratum is the full-sample count); rows outside the domain only contribute zeros.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import polars as pl
import scipy.sparse as sp

from nhanes_mg.errors import DesignError, EstimationError

LonelyPSU = Literal["fail", "remove", "adjust", "average", "certainty"]
LONELY_PSU_OPTIONS: tuple[str, ...] = ("fail", "remove", "adjust", "average", "certainty")


class SurveyWarning(UserWarning):
    """A survey computation ran but the user should know something about its input or result."""


Variable = str | pl.Expr


@dataclass(frozen=True)
class Encoded:
    """A column as numpy: ``values`` (float64, NaN = missing) or ``codes`` into ``levels``."""

    data: np.ndarray
    levels: list[object] | None  # text columns: sorted levels, data = codes (-1 = missing)
    integer: bool  # numeric column of integer (or boolean) type
    unsupported: str | None = None  # dtype name of a column that is neither

    @property
    def missing(self) -> np.ndarray:
        if self.levels is not None:
            return self.data < 0
        return np.isnan(self.data)


@dataclass(frozen=True)
class _Structure:
    """The fixed numeric structure of the full design, shared by every domain of it."""

    stratum: np.ndarray  # int, row -> stratum index 0..H-1
    psu: np.ndarray  # int, row -> PSU index 0..P-1 (PSUs nested in strata)
    psu_stratum: np.ndarray  # int, PSU -> stratum index
    n_psu: np.ndarray  # int, stratum -> number of PSUs in the full sample (R's fpc$sampsize)
    stratum_labels: list[object]
    aggregate: sp.csr_matrix  # P x n indicator: PSU totals = aggregate @ values
    lonely: np.ndarray  # bool, stratum -> has one PSU only


class SurveyDesign:
    """A stratified cluster sample with sampling weights, as R's ``svydesign``.

    Equivalent R call: ``svydesign(ids = ~psu, strata = ~strata, weights = ~weights,
    nest = TRUE, data = frame)`` with ``options(survey.lonely.psu = lonely_psu)``.
    PSUs are always taken as nested within strata (NHANES numbers PSUs 1, 2 within each stratum).

    Parameters
    ----------
    frame : polars.DataFrame
        One row per sampled person; all rows of the sample, also those outside the analysis
        domain (restrict with :meth:`subset`, never by filtering the frame first).
    strata, psu, weights : str
        Column names of the stratum, the PSU (nested in stratum) and the sampling weight.
    n_cycles : int, optional
        Number of pooled 2-year cycles: the weights are divided by it (NCHS rule for combining
        cycles from 2001 on). ``None`` or 1 leaves the weights as they are. See also
        :meth:`pooled`, which counts the cycles for you.
    lonely_psu : {"fail", "remove", "adjust", "average", "certainty"}
        What to do with strata that have a single PSU, as R's ``options(survey.lonely.psu)``:
        ``"fail"`` raises :class:`~nhanes_mg.errors.DesignError`; ``"remove"`` and
        ``"certainty"`` let such strata contribute no variance; ``"adjust"`` centres them at
        the grand mean (zero for influence functions) instead of the stratum mean;
        ``"average"`` replaces their contribution by the average of the other strata.
    allow_zero_weights : bool
        Rows with weight 0 (e.g. exam participants without a dietary recall under ``wt_diet1``)
        stay in the design, as in R, but contribute to no estimate. A :class:`SurveyWarning`
        says how many there are unless this is ``True``.

    Raises
    ------
    DesignError
        A design column is missing or has missing values, a weight is negative or not finite,
        all weights are zero, or a stratum has one PSU under ``lonely_psu="fail"``.

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svymean
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": [1, 1, 1, 1, 2, 2, 2, 2],
    ...     "sdmvpsu": [1, 1, 2, 2, 1, 1, 2, 2],
    ...     "wt_mec": [1.0, 2.0, 1.5, 1.0, 2.0, 1.0, 1.0, 3.0],
    ...     "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    ... })
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> design.df
    2
    >>> float(svymean("x", design).estimate[0])
    4.84
    """

    def __init__(
        self,
        frame: pl.DataFrame,
        *,
        strata: str,
        psu: str,
        weights: str,
        n_cycles: int | None = None,
        lonely_psu: LonelyPSU = "fail",
        allow_zero_weights: bool = False,
    ) -> None:
        if not isinstance(frame, pl.DataFrame):
            raise DesignError(f"frame must be a polars DataFrame, not {type(frame).__name__}")
        if lonely_psu not in LONELY_PSU_OPTIONS:
            raise DesignError(
                f"lonely_psu={lonely_psu!r} is not one of {', '.join(LONELY_PSU_OPTIONS)}"
            )
        missing = [c for c in (strata, psu, weights) if c not in frame.columns]
        if missing:
            raise DesignError(f"design variable(s) not in the frame: {', '.join(missing)}")
        if frame.height == 0:
            raise DesignError("the frame has no rows")
        for col in (strata, psu, weights):
            nulls = frame[col].null_count()
            if frame[col].dtype.is_float():
                nulls += int(frame[col].is_nan().sum())
            if nulls:
                raise DesignError(
                    f"design variable {col!r} has {nulls} missing value(s); every sampled row "
                    "needs a stratum, a PSU and a weight"
                )
        if n_cycles is not None and (int(n_cycles) != n_cycles or n_cycles < 1):
            raise DesignError(f"n_cycles must be a positive integer, not {n_cycles!r}")
        if not frame[weights].dtype.is_numeric():
            raise DesignError(f"weight column {weights!r} is not numeric")

        # The numeric core works on numpy arrays: sparse PSU aggregation, BLAS cross-products
        # and vectorized scoring need contiguous float64 memory, which polars hands over
        # without copying for numeric columns.
        w = frame[weights].cast(pl.Float64).to_numpy().copy()
        if not np.all(np.isfinite(w)):
            raise DesignError(f"weight column {weights!r} has non-finite values")
        if np.any(w < 0):
            raise DesignError(
                f"weight column {weights!r} has {int((w < 0).sum())} negative value(s)"
            )
        if not np.any(w > 0):
            raise DesignError(f"weight column {weights!r} is zero for every row")
        n_zero = int((w == 0).sum())
        if n_zero and not allow_zero_weights:
            warnings.warn(
                f"{n_zero} row(s) have {weights} == 0: they stay in the design (strata and PSU "
                "counts) but contribute to no estimate, as in R; pass allow_zero_weights=True "
                "to silence this",
                SurveyWarning,
                stacklevel=2,
            )
        if n_cycles:
            w = w / n_cycles

        self._frame = frame
        self.strata = strata
        self.psu = psu
        self.weights_col = weights
        self.n_cycles = n_cycles
        self.lonely_psu: LonelyPSU = lonely_psu
        self._w = w
        self._structure = _build_structure(frame, strata, psu)
        self._domain = np.ones(frame.height, dtype=bool)
        self._domain_label: str | None = None
        # numpy encodings of columns, made once per design and shared by its domains
        self._columns: dict[str, Encoded] = {}
        lonely = self._structure.lonely
        if lonely_psu == "fail" and lonely.any():
            labels = [_label(self._structure.stratum_labels[i]) for i in np.flatnonzero(lonely)]
            raise DesignError(
                f"{len(labels)} stratum/strata have only one PSU ({strata} = "
                f"{', '.join(map(str, labels[:10]))}); choose lonely_psu='remove', 'adjust', "
                "'average' or 'certainty' (R: options(survey.lonely.psu=...))"
            )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def pooled(
        cls,
        frame: pl.DataFrame,
        *,
        cycle_col: str = "cycle",
        strata: str = "sdmvstra",
        psu: str = "sdmvpsu",
        weights: str = "wt_mec",
        lonely_psu: LonelyPSU = "fail",
        allow_zero_weights: bool = False,
    ) -> SurveyDesign:
        """A design over several pooled 2-year cycles: 2-year weights divided by their number.

        The number of cycles is the number of distinct values of ``cycle_col``. (For
        1999-2000 with 2001-2002 NCHS supplies 4-year weights instead: pass those with
        the plain constructor.) NHANES strata numbers do not repeat across cycles, so pooled
        strata stay distinct; if they did repeat, the cycle is *not* added to the stratum.

        Examples
        --------
        >>> import polars as pl
        >>> from nhanes_mg.survey import SurveyDesign
        >>> frame = pl.DataFrame({
        ...     "cycle": ["2003-2004"] * 4 + ["2005-2006"] * 4,
        ...     "sdmvstra": [31, 31, 31, 31, 46, 46, 46, 46],
        ...     "sdmvpsu": [1, 1, 2, 2, 1, 1, 2, 2],
        ...     "wt_mec": [10.0, 20.0, 30.0, 40.0, 10.0, 20.0, 30.0, 40.0],
        ... })
        >>> design = SurveyDesign.pooled(frame, cycle_col="cycle")
        >>> design.n_cycles, float(design.weights.sum())
        (2, 100.0)
        """
        if cycle_col not in frame.columns:
            raise DesignError(f"cycle column {cycle_col!r} not in the frame")
        if frame[cycle_col].null_count():
            raise DesignError(f"cycle column {cycle_col!r} has missing values")
        n_cycles = frame[cycle_col].n_unique()
        return cls(
            frame,
            strata=strata,
            psu=psu,
            weights=weights,
            n_cycles=n_cycles,
            lonely_psu=lonely_psu,
            allow_zero_weights=allow_zero_weights,
        )

    # ------------------------------------------------------------------ properties
    @property
    def frame(self) -> pl.DataFrame:
        """The full frame (all rows of the sample, inside and outside the domain)."""
        return self._frame

    @property
    def domain(self) -> np.ndarray:
        """Boolean mask (full length) of the rows in the current domain."""
        return self._domain

    @property
    def weights(self) -> np.ndarray:
        """Analysis weights of the full frame (pooled weights already divided by n_cycles)."""
        return self._w

    @property
    def domain_weights(self) -> np.ndarray:
        """Weights with zeros outside the domain (what the estimators use)."""
        return np.where(self._domain, self._w, 0.0)

    @property
    def n_strata(self) -> int:
        return len(self._structure.n_psu)

    @property
    def n_psu(self) -> int:
        return len(self._structure.psu_stratum)

    @property
    def df(self) -> int:
        """Design degrees of freedom of the domain: #PSUs − #strata among rows with weight > 0.

        Same as R's ``degf(design)`` (which, for a subset, counts only the PSUs and strata that
        still hold observations of the domain).
        """
        return self.degf(self._domain)

    def __len__(self) -> int:
        return self._frame.height

    def __repr__(self) -> str:
        dom = "" if self._domain_label is None else f", domain {self._domain_label}"
        return (
            f"SurveyDesign({self._frame.height} rows, {int(self._domain.sum())} in domain, "
            f"{self.n_strata} strata, {self.n_psu} PSUs, weights={self.weights_col!r}"
            f"{'' if not self.n_cycles else f'/{self.n_cycles}'}, df={self.df}{dom})"
        )

    # ------------------------------------------------------------------ domains
    def subset(self, condition: pl.Expr | np.ndarray | pl.Series | Sequence[bool]) -> SurveyDesign:
        """The design restricted to a domain (R's ``subset(design, condition)``).

        All rows stay in the design, so variances use the full sample's strata and PSUs;
        rows where the condition is false or missing are outside the domain. Subsets nest:
        ``design.subset(a).subset(b)`` is the domain ``a & b``.

        Examples
        --------
        >>> import polars as pl
        >>> from nhanes_mg.survey import SurveyDesign
        >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 2, 2], "sdmvpsu": [1, 2, 1, 2],
        ...                       "wt_mec": [1.0, 1.0, 1.0, 1.0], "age": [30, 70, 65, 40]})
        >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
        >>> old = d.subset(pl.col("age") >= 60)
        >>> int(old.domain.sum()), len(old)
        (2, 4)
        """
        if isinstance(condition, pl.Expr):
            try:
                mask = self._frame.select(
                    condition.fill_null(False).alias("__domain__")
                ).to_series()
            except pl.exceptions.PolarsError as exc:
                raise DesignError(
                    f"cannot evaluate the subset condition {condition}: {exc}"
                ) from exc
            if mask.len() == 1 and self._frame.height != 1:  # a literal: broadcast
                mask = pl.Series(np.full(self._frame.height, bool(mask[0])))
            if mask.dtype != pl.Boolean:
                raise DesignError(f"subset condition is {mask.dtype}, not Boolean")
            label: str | None = str(condition)
            arr = mask.to_numpy()
        else:
            arr = np.asarray(
                condition.fill_null(False).to_numpy()
                if isinstance(condition, pl.Series)
                else condition
            )
            label = "mask"
            if arr.dtype != bool:
                raise DesignError(f"subset mask must be boolean, not {arr.dtype}")
        if arr.shape != (self._frame.height,):
            raise DesignError(
                f"subset mask has {arr.shape[0]} values but the design has "
                f"{self._frame.height} rows"
            )
        new = self._copy()
        new._domain = self._domain & arr.astype(bool)
        new._domain_label = (
            label if self._domain_label is None else f"{self._domain_label} & {label}"
        )
        if not new._domain.any():
            warnings.warn(
                f"the domain {label} is empty: estimates in it will raise", SurveyWarning, 2
            )
        return new

    def _copy(self) -> SurveyDesign:
        new = object.__new__(SurveyDesign)
        new.__dict__.update(self.__dict__)
        return new

    # ------------------------------------------------------------------ numeric core
    def values(self, variable: Variable) -> np.ndarray:
        """Full-length float64 values of a column or expression (missing → NaN)."""
        if isinstance(variable, str):
            enc = self.encoded(variable)
            if enc.levels is None and enc.unsupported is None:
                return enc.data
        series = self._series(variable)
        if series.dtype == pl.Boolean:
            series = series.cast(pl.Float64)
        if not series.dtype.is_numeric():
            raise EstimationError(f"variable {_name(variable)!r} is {series.dtype}, not numeric")
        return series.cast(pl.Float64).fill_null(np.nan).to_numpy()

    def _series(self, variable: Variable) -> pl.Series:
        if isinstance(variable, str):
            if variable not in self._frame.columns:
                raise EstimationError(f"variable {variable!r} is not in the design's frame")
            return self._frame[variable]
        if isinstance(variable, pl.Expr):
            try:
                return self._frame.select(variable).to_series()
            except pl.exceptions.PolarsError as exc:
                raise EstimationError(f"cannot evaluate {variable}: {exc}") from exc
        raise EstimationError(
            f"a variable is a column name or a polars expression, not {variable!r}"
        )

    def encoded(self, name: str) -> Encoded:
        """The column as numpy, converted once and cached (the frame never changes).

        Numeric and boolean columns give float64 values (null → NaN); text columns give
        integer codes into their sorted levels (null → -1).
        """
        enc = self._columns.get(name)
        if enc is None:
            if name not in self._frame.columns:
                raise EstimationError(f"variable {name!r} is not in the design's frame")
            s = self._frame.get_column(name)
            if s.dtype == pl.String:
                levels = sorted(s.drop_nulls().unique().to_list())
                codes = s.cast(pl.Enum(levels)).to_physical().cast(pl.Int64).fill_null(-1)
                enc = Encoded(codes.to_numpy(), levels, False)
            elif s.dtype.is_numeric() or s.dtype == pl.Boolean:
                values = s.cast(pl.Float64).fill_null(np.nan).to_numpy()
                enc = Encoded(values, None, s.dtype.is_integer() or s.dtype == pl.Boolean)
            else:
                enc = Encoded(np.empty(0), None, False, str(s.dtype))
            enc.data.flags.writeable = False  # shared by every domain: never modified
            self._columns[name] = enc
        return enc

    def degf(self, rows: np.ndarray) -> int:
        """#PSUs − #strata among ``rows`` (a full-length mask) with positive weight."""
        inset = rows & (self._w > 0)
        s = self._structure
        n_psu = int(np.count_nonzero(np.bincount(s.psu[inset], minlength=self.n_psu)))
        n_str = int(np.count_nonzero(np.bincount(s.stratum[inset], minlength=self.n_strata)))
        return int(n_psu - n_str)

    def variance(self, influence: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Linearization covariance of estimators with the given influence values.

        Parameters
        ----------
        influence : ndarray, shape (n,) or (n, p), or (m, p) with m = rows.sum()
            Weighted influence values, as R's ``svyrecvar(x, ...)`` takes them: full length
            (zero outside the domain) or only for the ``rows`` (the others are zero).
        rows : ndarray of bool, optional
            The rows R would keep in the design object (domain and non-missing); they decide
            which strata exist for ``lonely_psu="average"``. Defaults to the domain.

        Returns
        -------
        ndarray, shape (p, p)
        """
        z = np.asarray(influence, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        if not np.all(np.isfinite(z)):
            raise EstimationError("non-finite influence values: the estimate is undefined")
        s = self._structure
        rows = self._domain if rows is None else rows
        if z.shape[0] == self._frame.height:
            totals = s.aggregate @ z  # PSU totals, P x p
        elif z.shape[0] == int(rows.sum()):
            psu = s.psu[rows]
            m = len(psu)
            agg = sp.csr_matrix((np.ones(m), (psu, np.arange(m))), shape=(self.n_psu, m))
            totals = agg @ z
        else:
            raise ValueError(
                f"influence has {z.shape[0]} rows; expected {self._frame.height} or {rows.sum()}"
            )
        n_h = s.n_psu
        sums = np.zeros((len(n_h), z.shape[1]))
        np.add.at(sums, s.psu_stratum, totals)
        means = sums / n_h[:, None]
        lonely_psu = s.lonely[s.psu_stratum]
        centred = totals - means[s.psu_stratum]
        if self.lonely_psu == "adjust":
            # R centres single-PSU strata at zero (the population mean of influence values)
            centred = np.where(lonely_psu[:, None], totals, centred)
        scale = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 1.0)[s.psu_stratum]
        if self.lonely_psu == "average":
            scale = np.where(lonely_psu, 0.0, scale)
        scaled = centred * np.sqrt(scale)[:, None]
        v = scaled.T @ scaled
        if self.lonely_psu == "average" and s.lonely.any():
            present = np.zeros(len(n_h), dtype=bool)
            present[s.stratum[rows]] = True
            n_present = int(present.sum())
            n_ok = int((present & ~s.lonely).sum())
            if n_ok == 0:
                raise EstimationError("every stratum has a single PSU: no variance estimate")
            v = v * n_present / n_ok
        return cast(np.ndarray, v)


def _build_structure(frame: pl.DataFrame, strata: str, psu: str) -> _Structure:
    keys = frame.select(
        pl.col(strata).rank("dense").cast(pl.Int64).alias("s") - 1,
        pl.struct(strata, psu).rank("dense").cast(pl.Int64).alias("p") - 1,
    )
    stratum = keys["s"].to_numpy()
    psu_idx = keys["p"].to_numpy()
    n_p = int(psu_idx.max()) + 1
    n_s = int(stratum.max()) + 1
    psu_stratum = np.zeros(n_p, dtype=np.int64)
    psu_stratum[psu_idx] = stratum
    n_psu = np.bincount(psu_stratum, minlength=n_s)
    labels = frame[strata].unique().sort().to_list()
    n = frame.height
    aggregate = sp.csr_matrix((np.ones(n), (psu_idx, np.arange(n))), shape=(n_p, n))
    return _Structure(
        stratum=stratum,
        psu=psu_idx,
        psu_stratum=psu_stratum,
        n_psu=n_psu,
        stratum_labels=labels,
        aggregate=aggregate,
        lonely=n_psu == 1,
    )


def _name(variable: Variable) -> str:
    if isinstance(variable, str):
        return variable
    try:
        return variable.meta.output_name()
    except Exception:  # an expression without a single root name
        return str(variable)


def _label(value: object) -> str:
    """A stratum label for messages (50.0 → "50")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
