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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import scipy.sparse as sp

from nhanes_mg.errors import DesignError, EstimationError
from nhanes_mg.expressions import condition as parse_condition

LonelyPSU = Literal["fail", "remove", "adjust", "average", "certainty"]
LONELY_PSU_OPTIONS: tuple[str, ...] = ("fail", "remove", "adjust", "average", "certainty")


class SurveyWarning(UserWarning):
    """A survey computation ran but the user should know something about its input or result."""


Variable = str | pl.Expr


@dataclass(frozen=True)
class Encoded:
    """A column as numpy: ``values`` (float64, NaN = missing) or ``codes`` into ``levels``."""

    data: np.ndarray
    levels: list[object] | None  # text and Enum columns: levels, data = codes (-1 = missing)
    integer: bool  # numeric column of integer (or boolean) type
    unsupported: str | None = None  # dtype name of a column that is neither
    boolean: bool = False  # a boolean column (0/1 values; float levels in formulaic)
    ordered: bool = False  # an Enum: ``levels`` in its order (R's factor levels), not sorted

    @cached_property
    def missing(self) -> np.ndarray:
        """Boolean mask of the missing rows (computed once; read-only)."""
        out = self.data < 0 if self.levels is not None else np.isnan(self.data)
        out.flags.writeable = False
        return out

    @cached_property
    def complete(self) -> bool:
        """No missing value."""
        return not bool(self.missing.any())

    @cached_property
    def present(self) -> np.ndarray:
        """Boolean mask of the rows with a value (computed once; read-only)."""
        out = ~self.missing
        out.flags.writeable = False
        return out

    @cached_property
    def finite(self) -> bool:
        """No ±inf among the present values (text columns: always)."""
        if self.levels is not None or self.data.size == 0:
            return True
        return not bool(np.isinf(self.data).any())


@dataclass(frozen=True)
class _Structure:
    """The fixed numeric structure of the full design, shared by every domain of it."""

    stratum: np.ndarray  # int, row -> stratum index 0..H-1
    psu: np.ndarray  # int, row -> PSU index 0..P-1 (PSUs nested in strata)
    psu_stratum: np.ndarray  # int, PSU -> stratum index
    n_psu: np.ndarray  # int, stratum -> number of PSUs in the full sample (R's fpc$sampsize)
    stratum_labels: list[object]
    lonely: np.ndarray  # bool, stratum -> has one PSU only

    @cached_property
    def stratum_starts(self) -> np.ndarray:
        """The first PSU of each stratum (PSUs are numbered stratum by stratum)."""
        return np.concatenate(([0], np.cumsum(self.n_psu)[:-1]))

    @cached_property
    def aggregate(self) -> sp.csc_matrix:
        """P x n indicator: PSU totals = aggregate @ values (made on first use)."""
        return _indicator(self.psu, len(self.psu_stratum))


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
        # The numeric core works on numpy arrays: sparse PSU aggregation, BLAS cross-products
        # and vectorized scoring need contiguous float64 memory. Columns are converted once
        # (numeric columns without nulls are handed over by polars without a copy) and the
        # encodings are cached by the design, its domains and its updates.
        columns: dict[str, Encoded] = {}
        for col in (strata, psu, weights):
            enc = encode_column(frame.get_column(col))
            columns[col] = enc
            nulls = (
                frame[col].null_count()
                if enc.unsupported is not None
                else int(np.count_nonzero(enc.missing))
            )
            if nulls:
                raise DesignError(
                    f"design variable {col!r} has {nulls} missing value(s); every sampled row "
                    "needs a stratum, a PSU and a weight"
                )
        if n_cycles is not None and (int(n_cycles) != n_cycles or n_cycles < 1):
            raise DesignError(f"n_cycles must be a positive integer, not {n_cycles!r}")
        if not frame[weights].dtype.is_numeric():
            raise DesignError(f"weight column {weights!r} is not numeric")

        w = columns[weights].data.copy()
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
        w.flags.writeable = False

        self._frame = frame
        self.strata = strata
        self.psu = psu
        self.weights_col = weights
        self.n_cycles = n_cycles
        self.lonely_psu: LonelyPSU = lonely_psu
        self._w = w
        self._structure = build_structure(frame, strata, psu, columns)
        self._domain = np.ones(frame.height, dtype=bool)
        self._domain.flags.writeable = False
        self._domain_label: str | None = None
        # numpy encodings of columns, made once per design and shared by its domains; an
        # update() of the design looks up the columns it did not replace in its parent's
        self._columns: dict[str, Encoded] = {
            k: v for k, v in columns.items() if v.unsupported is None
        }
        self._parent: SurveyDesign | None = None
        self._replaced: frozenset[str] = frozenset()
        self._memo: dict[str, Any] = {}  # per-domain quantities (reset by subset)
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

    @classmethod
    def _rows_only(cls, frame: pl.DataFrame, weights: np.ndarray, weights_col: str) -> SurveyDesign:
        """The rows, weights and domain of a replicate-weight design, without strata or PSUs.

        :class:`~nhanes_mg.survey.replicate.ReplicateDesign` keeps its frame, full-sample
        weights and domain in one of these, so that the column encodings, domains, updates
        and model matrices are the very code of this class. The structure is one stratum
        holding one PSU (so :meth:`domain_rows` is frame order); it is never used for a
        variance: a replicate design takes its variances from its replicate weights.
        ``weights`` must be validated by the caller (finite, non-negative, length of frame).
        """
        new = object.__new__(cls)
        n = frame.height
        w = np.array(weights, dtype=np.float64)
        w.flags.writeable = False
        zeros = np.zeros(n, dtype=np.int64)
        one = np.zeros(1, dtype=np.int64)
        for a in (zeros, one):
            a.flags.writeable = False
        new._frame = frame
        new.strata = ""
        new.psu = ""
        new.weights_col = weights_col
        new.n_cycles = None
        new.lonely_psu = "certainty"
        new._w = w
        new._structure = _Structure(
            stratum=zeros,
            psu=zeros,
            psu_stratum=one,
            n_psu=np.ones(1, dtype=np.int64),
            stratum_labels=[1],
            lonely=np.zeros(1, dtype=bool),
        )
        new._domain = np.ones(n, dtype=bool)
        new._domain.flags.writeable = False
        new._domain_label = None
        new._columns = {}
        new._parent = None
        new._replaced = frozenset()
        new._memo = {}
        return new

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
    def column_names(self) -> frozenset[str]:
        """The frame's column names (a set, made once)."""
        names = self._memo.get("column_names")
        if names is None:
            names = frozenset(self._frame.columns)
            self._memo["column_names"] = names
        return cast(frozenset[str], names)

    @property
    def psu_index(self) -> np.ndarray:
        """The PSU (0..P-1, PSUs nested in strata) of each row of the frame (read-only)."""
        return self._structure.psu

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
    def subset(
        self, condition: str | pl.Expr | np.ndarray | pl.Series | Sequence[bool]
    ) -> SurveyDesign:
        """The design restricted to a domain (R's ``subset(design, condition)``).

        All rows stay in the design, so variances use the full sample's strata and PSUs;
        rows where the condition is false or missing are outside the domain. Subsets nest:
        ``design.subset(a).subset(b)`` is the domain ``a & b``. ``condition`` is an SQL
        condition as specifications write them (``"age >= 60 AND sex = 'female'"``, checked
        by :func:`nhanes_mg.expressions.condition`), a polars expression or a boolean mask.

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
        >>> int(d.subset("age >= 60 AND age < 70").domain.sum())
        1
        """
        text = condition if isinstance(condition, str) else None
        if text is not None:
            condition = parse_condition(text).expr  # one line naming what is not allowed
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
            label: str | None = text or str(condition)
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
        new._domain.flags.writeable = False
        new._domain_label = (
            label if self._domain_label is None else f"{self._domain_label} & {label}"
        )
        if not new._domain.any():
            warnings.warn(
                f"the domain {label} is empty: estimates in it will raise", SurveyWarning, 2
            )
        return new

    def update(self, **columns: pl.Expr | pl.Series | np.ndarray | Any) -> SurveyDesign:
        """The design with added or replaced variables (R's ``update(design, name = expr)``).

        The new design shares this design's strata, PSUs, weights, domain and the numpy
        encodings of every column it does not replace, so adding a few analysis variables
        (exposure categories, a trend score, a modifier) costs only evaluating them: nothing
        about the sample is rebuilt or checked again. Estimates equal those of a design
        built from scratch on ``design.frame.with_columns(**columns)`` and subset the same way.

        Parameters
        ----------
        **columns : polars.Expr, polars.Series, numpy array or scalar
            New variable name → its values for *every* row of the frame: an expression
            evaluated on the full frame (all rows, inside and outside the domain, as R's
            ``update`` of a subset design), a Series or array of the frame's length, or a
            scalar (the same value in every row). Expressions see the frame as it was
            (not each other's results), as in ``DataFrame.with_columns``.

        Returns
        -------
        SurveyDesign
            A new design; this one is unchanged.

        Raises
        ------
        DesignError
            No columns given; a name is a design variable (strata, PSU or weight: build a new
            design to change those); an expression fails; a value has the wrong length.

        Notes
        -----
        The domain is kept as a row mask: replacing a column that a :meth:`subset` condition
        used does *not* re-evaluate the condition (R behaves the same). Subset the updated
        design again for a domain defined on the new values.

        Examples
        --------
        >>> import polars as pl
        >>> from nhanes_mg.survey import SurveyDesign, svymean
        >>> frame = pl.DataFrame({
        ...     "sdmvstra": [1, 1, 1, 1, 2, 2, 2, 2],
        ...     "sdmvpsu": [1, 1, 2, 2, 1, 1, 2, 2],
        ...     "wt_mec": [1.0, 2.0, 1.5, 1.0, 2.0, 1.0, 1.0, 3.0],
        ...     "age": [25, 70, 45, 66, 30, 81, 52, 19],
        ...     "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        ... })
        >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
        >>> adults = design.subset(pl.col("age") >= 20)
        >>> older = adults.update(old=(pl.col("age") >= 65).cast(pl.Float64),
        ...                       x10=pl.col("x") * 10)
        >>> round(float(svymean("old", older).estimate[0]), 4)
        0.4211
        >>> float(svymean("x10", older).estimate[0]) == 10 * float(svymean("x", adults).estimate[0])
        True
        >>> "old" in adults.frame.columns  # the original design is unchanged
        False
        """
        if not columns:
            raise DesignError("update() needs at least one column: update(name=expression)")
        design_vars = {self.strata, self.psu, self.weights_col} & set(columns)
        if design_vars:
            raise DesignError(
                f"update() cannot replace the design variable(s) {', '.join(sorted(design_vars))}"
                "; build a new SurveyDesign for other strata, PSUs or weights"
            )
        n = self._frame.height
        exprs: dict[str, Any] = {}
        for name, value in columns.items():
            if isinstance(value, pl.Series):
                value = value.alias(name)
            elif isinstance(value, np.ndarray):
                value = pl.Series(name, value)
            if isinstance(value, pl.Series) and value.len() != n:
                raise DesignError(
                    f"update(): {name!r} has {value.len()} values but the design has {n} rows"
                )
            exprs[name] = value
        try:
            frame = self._frame.with_columns(**exprs)
        except pl.exceptions.PolarsError as exc:
            raise DesignError(f"update(): cannot evaluate the new column(s): {exc}") from exc
        if frame.height != n:  # pragma: no cover - polars refuses other lengths
            raise DesignError("update(): the new columns changed the number of rows")
        new = self._copy()
        new._frame = frame
        new._columns = {}
        new._parent = self
        new._replaced = frozenset(columns)
        # the domain is the same: keep its row order and its columns that stay
        for key in (
            "domain_index",
            "domain_rows",
            "domain_psu_order",
            "domain_psu",
            "domain_row_weights",
            "domain_weights_positive",
            "domain_weight_mean",
            "psu_scale",
        ):
            if key in self._memo:
                new._memo[key] = self._memo[key]
        kept = {k: v for k, v in self._memo.get("domain_columns", {}).items() if k not in columns}
        new._memo["domain_columns"] = kept
        return new

    def reweighted(self, weights: np.ndarray) -> SurveyDesign:
        """The design with other weights for its rows (one replicate weight of a chain that
        is refitted per replicate, say): strata, PSUs, domain and the encodings of every
        other column shared, as :meth:`update` shares them.

        Estimates equal those of a design built anew on the frame with ``weights`` in its
        weight column and the same options (pooled: divided by the same number of cycles).
        ``weights`` are checked as a new design's (finite, non-negative, one positive); rows
        of weight 0 stay in the design, as everywhere.

        >>> import polars as pl
        >>> from nhanes_mg.survey import SurveyDesign, svymean
        >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 2, 2], "sdmvpsu": [1, 2, 1, 2],
        ...                       "w": [1.0, 1.0, 1.0, 1.0], "x": [1.0, 2.0, 3.0, 4.0]})
        >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="w")
        >>> float(svymean("x", d.reweighted(np.array([1.0, 1.0, 1.0, 3.0]))).estimate[0])
        3.0
        """
        w = np.array(weights, dtype=np.float64)
        name = self.weights_col
        if w.shape != (self._frame.height,):
            raise DesignError(
                f"reweighted(): {w.shape[0] if w.ndim else 1} weights for a design of "
                f"{self._frame.height} rows"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or not np.any(w > 0):
            raise DesignError(
                f"reweighted(): the new {name!r} must be finite and non-negative, one positive"
            )
        frame = self._frame.with_columns(pl.Series(name, w))
        if self.n_cycles:
            w = w / self.n_cycles
        w.flags.writeable = False
        new = self._copy()
        new._frame = frame
        new._w = w
        new._columns = {}
        new._parent = self
        new._replaced = frozenset({name})
        # the domain's rows and their order stay; what depends on the weights is made anew
        for key in ("domain_index", "domain_rows", "domain_psu_order", "domain_psu"):
            if key in self._memo:
                new._memo[key] = self._memo[key]
        kept = {k: v for k, v in self._memo.get("domain_columns", {}).items() if k != name}
        new._memo["domain_columns"] = kept
        return new

    def _copy(self) -> SurveyDesign:
        new = object.__new__(SurveyDesign)
        new.__dict__.update(self.__dict__)
        new._memo = {}
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
        integer codes into their sorted levels (null → -1). The arrays are read-only: they
        are shared by every domain and update of the design.
        """
        enc = self._columns.get(name)
        if enc is None:
            if self._parent is not None and name not in self._replaced:
                enc = self._parent.encoded(name)  # the same column: share its encoding
            else:
                if name not in self._frame.columns:
                    raise EstimationError(f"variable {name!r} is not in the design's frame")
                enc = encode_column(self._frame.get_column(name))
            self._columns[name] = enc
        return enc

    def domain_index(self) -> np.ndarray:
        """Row numbers of the domain (ascending; computed once per domain)."""
        idx = self._memo.get("domain_index")
        if idx is None:
            idx = np.flatnonzero(self._domain)
            idx.flags.writeable = False
            self._memo["domain_index"] = idx
        return cast(np.ndarray, idx)

    def domain_rows(self) -> np.ndarray:
        """Row numbers of the domain grouped by PSU (frame order within a PSU); cached.

        The order of the rows of a model matrix on the fast path: a PSU's rows are
        contiguous, so PSU totals of scores are sums of segments.
        """
        rows = self._memo.get("domain_rows")
        if rows is None:
            rows = self.domain_index().take(self._domain_psu_order())
            rows.flags.writeable = False
            self._memo["domain_rows"] = rows
        return cast(np.ndarray, rows)

    def _domain_psu_order(self) -> np.ndarray:
        """The permutation of :meth:`domain_index` that groups its rows by PSU (stable)."""
        order = self._memo.get("domain_psu_order")
        if order is None:
            psu = self._structure.psu.take(self.domain_index())
            if self.n_psu <= np.iinfo(np.int16).max:
                psu = psu.astype(np.int16)  # numpy sorts 16-bit integers by radix: O(n)
            order = np.argsort(psu, kind="stable")
            self._memo["domain_psu_order"] = order
        return cast(np.ndarray, order)

    def domain_encoded(self, name: str) -> Encoded:
        """A column's encoding on :meth:`domain_rows` (in their order); cached per domain.

        Taken from the full column's encoding when the design has made it, else encoded
        from the frame for the domain's rows only (text levels: those in the domain). The
        model fits of a domain read these compact, PSU-ordered arrays.
        """
        columns = self._memo.setdefault("domain_columns", {})
        enc = columns.get(name)
        if enc is None:
            rows = self.domain_rows()
            full = self._cached_encoding(name)
            if full is not None:
                data = full.data.take(rows) if full.unsupported is None else full.data
                data.flags.writeable = False
                enc = replace(full, data=data)
            else:
                if name not in self.column_names:
                    raise EstimationError(f"variable {name!r} is not in the design's frame")
                # read the frame's buffers in row order (a stream: much faster from memory
                # than by PSU), then order the compact result by PSU
                enc = encode_column(self._frame.get_column(name), self.domain_index())
                if enc.unsupported is None:  # an Enum, a date…: no arrays, the model's
                    data = enc.data.take(self._domain_psu_order())  # general path reads it
                    data.flags.writeable = False
                    enc = replace(enc, data=data)
            columns[name] = enc
        return cast(Encoded, enc)

    def _cached_encoding(self, name: str) -> Encoded | None:
        """The full column's encoding if this design (or the one it updates) has made it."""
        enc = self._columns.get(name)
        if enc is None and self._parent is not None and name not in self._replaced:
            return self._parent._cached_encoding(name)
        return enc

    def domain_row_weights(self) -> np.ndarray:
        """The weight of each of :meth:`domain_rows` (cached)."""
        w = self._memo.get("domain_row_weights")
        if w is None:
            w = self._w.take(self.domain_rows())
            w.flags.writeable = False
            self._memo["domain_row_weights"] = w
        return cast(np.ndarray, w)

    def domain_weights_positive(self) -> bool:
        """Every row of the domain has a positive weight (cached)."""
        positive = self._memo.get("domain_weights_positive")
        if positive is None:
            w = self.domain_row_weights()
            positive = bool(len(w) and w.min() > 0)
            self._memo["domain_weights_positive"] = positive
        return cast(bool, positive)

    def domain_psu(self) -> np.ndarray:
        """The PSU of each of :meth:`domain_rows` (non-decreasing; cached)."""
        psu = self._memo.get("domain_psu")
        if psu is None:
            psu = self._structure.psu.take(self.domain_rows())
            psu.flags.writeable = False
            self._memo["domain_psu"] = psu
        return cast(np.ndarray, psu)

    def domain_weight_mean(self) -> float:
        """Mean weight over the domain rows (R's ``rescale`` constant of ``svyglm``)."""
        m = self._memo.get("domain_weight_mean")
        if m is None:
            m = float(self._w.take(self.domain_index()).mean())
            self._memo["domain_weight_mean"] = m
        return cast(float, m)

    def _psu_scale(self) -> np.ndarray:
        """sqrt(n_h / (n_h - 1)) of each PSU's stratum (0 for lonely PSUs under "average")."""
        scale = self._memo.get("psu_scale")
        if scale is None:
            s = self._structure
            n_h = s.n_psu
            per_psu = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 1.0)[s.psu_stratum]
            if self.lonely_psu == "average":
                per_psu = np.where(s.lonely[s.psu_stratum], 0.0, per_psu)
            scale = np.sqrt(per_psu)
            self._memo["psu_scale"] = scale
        return cast(np.ndarray, scale)

    def degf(self, rows: np.ndarray) -> int:
        """#PSUs − #strata among ``rows`` with positive weight.

        ``rows`` is a full-length boolean mask or an array of row numbers.
        """
        s = self._structure
        if rows.dtype == bool:
            psu = s.psu[rows & (self._w > 0)]
        else:
            psu = s.psu.take(rows[self._w.take(rows) > 0])
        return self.degf_of_psus(psu)

    def degf_of_psus(self, psu: np.ndarray) -> int:
        """#PSUs − #strata given the PSU (:attr:`psu_index`) of each row in use."""
        s = self._structure
        present = np.bincount(psu, minlength=self.n_psu) > 0
        n_psu = int(np.count_nonzero(present))
        n_str = int(np.count_nonzero(np.bincount(s.psu_stratum[present], minlength=self.n_strata)))
        return n_psu - n_str

    @property
    def variance_needs_rows(self) -> bool:
        """Whether :meth:`variance` depends on its ``rows`` (beyond the influence values):
        only when single-PSU strata are averaged over the strata present
        (``lonely_psu="average"`` with a lonely stratum). Otherwise estimators of different
        domains can share one call, their influence values side by side."""
        return self.lonely_psu == "average" and bool(self._structure.lonely.any())

    def variance(self, influence: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Linearization covariance of estimators with the given influence values.

        Parameters
        ----------
        influence : ndarray, shape (n,) or (n, p), or (m, p) for m given rows
            Weighted influence values, as R's ``svyrecvar(x, ...)`` takes them: full length
            (zero outside the domain) or only for the ``rows`` (the others are zero).
        rows : ndarray of bool or int, optional
            The rows R would keep in the design object (domain and non-missing); they decide
            which strata exist for ``lonely_psu="average"``. A full-length boolean mask
            (``influence`` then has ``n`` rows or ``rows.sum()`` rows, in frame order) or the
            row numbers of the ``m`` rows of ``influence``, in its order. Defaults to the
            domain.

        Returns
        -------
        ndarray, shape (p, p)
        """
        z = np.asarray(influence, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        s = self._structure
        n = self._frame.height
        rows = self._domain if rows is None else np.asarray(rows)
        if rows.dtype == bool:
            if z.shape[0] == n:
                totals = s.aggregate @ np.ascontiguousarray(z)  # PSU totals, P x p
            elif z.shape[0] == int(np.count_nonzero(rows)):
                totals = psu_totals(z, s.psu[rows], self.n_psu)
            else:
                raise ValueError(f"influence has {z.shape[0]} rows; expected {n} or {rows.sum()}")
        else:
            if z.shape[0] != len(rows):
                raise ValueError(f"influence has {z.shape[0]} rows; expected {len(rows)}")
            totals = psu_totals(z, s.psu.take(rows), self.n_psu)
        return self.variance_of_totals(totals, rows)

    def variance_of_totals(self, totals: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """:meth:`variance` from the PSU totals of the influence values (P x p).

        For callers that total their influence values themselves (the GLM does, from cell
        totals); ``rows`` as in :meth:`variance`.
        """
        s = self._structure
        rows = self._domain if rows is None else np.asarray(rows)
        # a non-finite influence value makes its PSU total non-finite (NaN and inf propagate)
        if not np.all(np.isfinite(totals)):
            raise EstimationError("non-finite influence values: the estimate is undefined")
        n_h = s.n_psu
        # stratum totals: PSUs are numbered stratum by stratum, so a stratum's are contiguous
        sums = np.add.reduceat(totals, s.stratum_starts, axis=0)
        means = sums / n_h[:, None]
        centred = totals - means[s.psu_stratum]
        if self.lonely_psu == "adjust":
            # R centres single-PSU strata at zero (the population mean of influence values)
            centred = np.where(s.lonely[s.psu_stratum][:, None], totals, centred)
        scaled = centred * self._psu_scale()[:, None]
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


# ---------------------------------------------------------------------- encodings
def psu_totals(z: np.ndarray, psu: np.ndarray, n_psu: int) -> np.ndarray:
    """PSU totals (P x p) of the rows of ``z`` (m x p), row ``i`` in PSU ``psu[i]``.

    Rows grouped by PSU (as :meth:`SurveyDesign.domain_rows`) are summed as contiguous
    segments; otherwise through a sparse indicator (the same totals up to rounding).
    """
    m = len(psu)
    if m and not np.any(psu[1:] < psu[:-1]):
        starts = np.flatnonzero(np.concatenate(([True], psu[1:] != psu[:-1])))
        totals = np.zeros((n_psu, z.shape[1]))
        if z.flags.f_contiguous and not z.flags.c_contiguous:
            totals[psu[starts]] = np.add.reduceat(z.T, starts, axis=1).T
        else:
            totals[psu[starts]] = np.add.reduceat(z, starts, axis=0)
        return totals
    return cast(np.ndarray, _indicator(psu, n_psu) @ np.ascontiguousarray(z))


def _indicator(psu: np.ndarray, n_psu: int) -> sp.csc_matrix:
    """The P x m 0/1 matrix with a one in row ``psu[i]`` of column ``i``."""
    m = len(psu)
    return sp.csc_matrix(
        (np.ones(m), psu.astype(np.int32, copy=False), np.arange(m + 1, dtype=np.int32)),
        shape=(n_psu, m),
    )


_PLAIN_NUMERIC = frozenset(
    {pl.Float64, pl.Float32, pl.Boolean, pl.Int8, pl.Int16, pl.Int32, pl.Int64}
    | {pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64}
)


def encode_column(s: pl.Series, rows: np.ndarray | None = None) -> Encoded:
    """A polars column as numpy (see :class:`Encoded`); vectorized, no Python loop over rows.

    With ``rows`` (row numbers), the encoding of those rows only, in their order (text levels
    are then the values among them).
    """
    dtype = s.dtype
    if dtype == pl.String:
        enc = _encode_short_text(s, rows)
        if enc is None:
            part = s if rows is None else s.gather(rows)
            levels = sorted(part.drop_nulls().unique().to_list())
            codes = part.cast(pl.Enum(levels)).to_physical().cast(pl.Int64).fill_null(-1)
            enc = Encoded(codes.to_numpy().astype(_code_dtype(len(levels))), levels, False)
    elif isinstance(dtype, pl.Enum):  # codes are its physical values, levels its categories
        part = s if rows is None else s.gather(rows)
        levels = dtype.categories.to_list()
        physical = part.to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
        enc = Encoded(physical.astype(_code_dtype(len(levels))), levels, False, ordered=True)
    elif dtype.is_numeric() or dtype == pl.Boolean:
        integer = dtype.is_integer() or dtype == pl.Boolean
        values: np.ndarray | None = None
        if s.null_count() == 0 and dtype in _PLAIN_NUMERIC:
            raw = s.to_numpy()  # zero-copy for float64 without nulls
            if raw.dtype.kind in "fiub":
                if rows is not None:
                    raw = raw.take(rows)
                values = raw.astype(np.float64, copy=False)
        elif dtype in _PLAIN_NUMERIC and dtype != pl.Boolean:
            values = _numeric_with_nulls(s, rows)
        if values is None:
            part = s if rows is None else s.gather(rows)
            values = part.cast(pl.Float64).fill_null(np.nan).to_numpy()
        enc = Encoded(values, None, integer, boolean=dtype == pl.Boolean)
    else:
        return Encoded(np.empty(0), None, False, str(dtype))
    enc.data.flags.writeable = False  # shared by every domain: never modified
    return enc


def _code_dtype(n_levels: int) -> type[np.signedinteger[Any]]:
    """The smallest signed integer type for codes 0..n_levels-1 and -1: the model matrix
    reads a column's codes once per fit, so small codes mean less memory traffic."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_levels <= np.iinfo(dtype).max:
            return dtype
    return np.int64


def _numeric_with_nulls(s: pl.Series, rows: np.ndarray | None = None) -> np.ndarray | None:
    """Float64 values of a numeric column with nulls (→ NaN) from its Arrow buffers."""
    try:
        arr = s.to_arrow()
    except Exception:  # pragma: no cover - the general path
        return None
    if not isinstance(arr, pa.Array) or arr.null_count == 0:
        return None
    buffers = arr.buffers()
    n, off = len(arr), arr.offset
    dtype = np.dtype(arr.type.to_pandas_dtype())
    if len(buffers) != 2 or buffers[0] is None or dtype.kind not in "fiu":
        return None
    raw = np.frombuffer(buffers[1], dtype=dtype, count=off + n)[off:]
    bits = np.frombuffer(buffers[0], dtype=np.uint8)
    valid = np.unpackbits(bits, bitorder="little", count=off + n)[off:]
    if rows is not None:
        raw, valid = raw.take(rows), valid.take(rows)
    values = raw.astype(np.float64)  # (a copy: the buffer is polars')
    values[np.flatnonzero(valid == 0)] = np.nan  # (an index beats a mask: few nulls)
    return values


@lru_cache(maxsize=1)
def _newest_arrow() -> Any:
    """polars' newest Arrow layout (string views), looked up once (the lookup warns-checks)."""
    return pl.CompatLevel.newest()


def _encode_short_text(s: pl.Series, rows: np.ndarray | None = None) -> Encoded | None:
    """Codes of a text column whose values have at most 12 bytes, or None (use polars).

    Reads the Arrow string-view buffer polars exports without a copy: a value of up to 12
    bytes is stored inline, zero-padded, in its 16-byte view (4 bytes of length, then the
    bytes), so the view's two 64-bit words identify the value. They are numbered by a
    counting pass when their range is small (one to four bytes of text: NHANES codes), else
    by a hash factorization; 3-5 times faster than a polars cast to Enum. Levels are sorted
    as Python sorts strings (code points = UTF-8 byte order).
    """
    try:
        arr = s.to_arrow(compat_level=_newest_arrow())
    except Exception:  # older polars or an unusual layout: the general path
        return None
    if not isinstance(arr, pa.Array) or not pa.types.is_string_view(arr.type):
        return None
    n, off = len(arr), arr.offset
    buffers = arr.buffers()
    if n == 0 or len(buffers) < 2 or buffers[1] is None:
        return None
    views = np.frombuffer(buffers[1], dtype=np.uint8, count=(off + n) * 16).reshape(-1, 16)
    # a view as 4 words of 32 bits: length, bytes 0-3, 4-7, 8-11 (strided views, no copies)
    views = views[off:]
    n = len(views) if rows is None else len(rows)
    if n == 0:
        return Encoded(np.empty(0, dtype=np.int8), [], False)

    def part(column: np.ndarray) -> np.ndarray:  # a (strided) column of the views, our rows
        return column if rows is None else column.take(rows)

    quads = views.view(np.uint32)  # length, bytes 0-3, 4-7, 8-11 (strided views, no copies)
    valid: np.ndarray | None = None  # 1 where present (uint8: arithmetic beats masks here)
    if arr.null_count:
        bits = np.frombuffer(buffers[0], dtype=np.uint8)
        valid = part(np.unpackbits(bits, bitorder="little", count=off + len(arr))[off:])
        if not valid.any():
            return Encoded(np.full(n, -1, dtype=np.int8), [], False)
    longest = int(quads[:, 0].max())  # (null views are zeros in polars; if not, check)
    if longest > 12 and arr.null_count:
        every = np.unpackbits(np.frombuffer(buffers[0], np.uint8), bitorder="little")
        longest = int(np.max(quads[:, 0], where=every[off : off + len(arr)] == 1, initial=0))
    if longest > 12:
        return None
    second: np.ndarray | None = None  # the distinct bytes 4-11, by their code
    if longest <= 4:  # key - 1 = the text's bytes (a little-endian number) and its length
        key = part(quads[:, 1]).astype(np.int64)
        key <<= 3
        key |= part(quads[:, 0])
    else:  # key - 1 = (code of bytes 4-11, bytes 0-3, length)
        words = views.view(np.int64)
        key, second = pd.factorize(part(words[:, 1]), sort=False)
        if len(second) >= 1 << 23:
            return None
        key = key.astype(np.int64, copy=False)
        key <<= 8
        key |= part(words[:, 0])  # length (< 256) in the low byte, bytes 0-3 in the high word
    key += 1  # present values have keys != 0
    if valid is not None:
        key *= valid  # nulls: key 0
    lo, hi = int(key.min()), int(key.max())
    if valid is not None and lo == 0:  # the smallest present key
        lo = int((key + (valid == 0) * hi).min())
    if 0 <= hi - lo < 1 << 16:  # few possible keys: a counting pass (keys in ascending order)
        codes = key - lo
        if valid is not None:
            codes += (valid == 0) * (hi + 1)  # nulls: code hi - lo + 1 (from -lo)
        slot = np.flatnonzero(np.bincount(codes, minlength=hi - lo + 2)[: hi - lo + 1])
        keys = (slot + lo).tolist()
        to_level = np.full(hi - lo + 2, -1, dtype=np.int64)
    else:
        codes, uniques = pd.factorize(key, sort=False)
        slot = np.flatnonzero(uniques != 0)
        keys = uniques[slot].tolist()
        to_level = np.full(len(uniques), -1, dtype=np.int64)
    found = []
    for k in keys:
        k -= 1
        if second is None:
            found.append((k >> 3).to_bytes(4, "little")[: k & 7].decode("utf-8"))
        else:
            raw = ((k >> 32) & 0xFFFFFFFF).to_bytes(4, "little")
            raw += int(second[(k >> 8) & 0x7FFFFF]).to_bytes(8, "little", signed=True)
            found.append(raw[: k & 0xFF].decode("utf-8"))
    if len(set(found)) != len(found):  # inline bytes not zero-padded: the general path
        return None
    order = sorted(range(len(found)), key=found.__getitem__)
    rank = np.empty(len(found), dtype=np.int64)
    rank[order] = np.arange(len(found))
    to_level[slot] = rank  # (nulls keep -1)
    return Encoded(
        to_level.astype(_code_dtype(len(found)))[codes], [found[i] for i in order], False
    )


def _dense_rank(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes 0..k-1 in ascending order of the values, the sorted distinct values)."""
    if values.size and values.dtype.kind in "fiu":
        lo, hi = values.min(), values.max()
        if (
            np.isfinite(lo)
            and np.isfinite(hi)
            and hi - lo <= 4 * values.size + 1024
            and (values.dtype.kind != "f" or np.array_equal(values, np.floor(values)))
        ):
            offset = (values - lo).astype(np.int64)
            present = np.bincount(offset, minlength=int(hi - lo) + 1) > 0
            rank = np.cumsum(present) - 1
            distinct = np.flatnonzero(present) + lo
            return rank[offset], distinct.astype(values.dtype)
    distinct, codes = np.unique(values, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), distinct


def _design_codes(frame: pl.DataFrame, col: str, enc: Encoded) -> tuple[np.ndarray, list[object]]:
    """Dense codes of a design column (sorted order of its values) and the sorted values."""
    if enc.levels is not None:
        codes, present = _dense_rank(enc.data)
        return codes, [enc.levels[int(i)] for i in present]
    if enc.unsupported is None:
        codes, distinct = _dense_rank(enc.data)
        labels: list[object] = (
            [int(v) for v in distinct] if enc.integer and frame[col].dtype != pl.Boolean
            else distinct.tolist()
        )  # fmt: skip
        return codes, labels
    # other types (dates, categoricals, ...): polars orders them
    codes = frame.select(pl.col(col).rank("dense").cast(pl.Int64) - 1).to_series().to_numpy()
    return codes, frame[col].unique().sort().to_list()


def build_structure(
    frame: pl.DataFrame, strata: str, psu: str, columns: Mapping[str, Encoded]
) -> _Structure:
    stratum, labels = _design_codes(frame, strata, columns[strata])
    psu_code, _ = _design_codes(frame, psu, columns[psu])
    # PSUs nested in strata: rank (stratum, psu) pairs, as R's nest = TRUE
    psu_idx, _ = _dense_rank(stratum * (int(psu_code.max()) + 1) + psu_code)
    n_p = int(psu_idx.max()) + 1
    n_s = int(stratum.max()) + 1
    psu_stratum = np.zeros(n_p, dtype=np.int64)
    psu_stratum[psu_idx] = stratum
    n_psu = np.bincount(psu_stratum, minlength=n_s)
    for a in (stratum, psu_idx, psu_stratum, n_psu):
        a.flags.writeable = False
    return _Structure(
        stratum=stratum,
        psu=psu_idx,
        psu_stratum=psu_stratum,
        n_psu=n_psu,
        stratum_labels=labels,
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
