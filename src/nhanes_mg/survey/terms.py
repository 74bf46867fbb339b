"""A model given by its columns instead of a formula text.

Programs that build their own model columns (the study layer codes an exposure's categories,
spline basis and interaction terms itself) pass :class:`ModelTerms` to :func:`svyglm` and
:func:`svycoxph`: the columns are used as they are named, nothing is parsed. Text columns are
categorical and numeric ones numeric, as in a formula. Users keep writing formulas.

Examples
--------
>>> terms = ModelTerms("low_vitd", ("mg_100", "age", "sex"))
>>> terms.formula
'low_vitd ~ mg_100 + age + sex'
>>> ModelTerms("died", ("mg_100", "age"), time="months").formula
'Surv(months, died) ~ mg_100 + age'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelTerms:
    """The outcome column (for a Cox model: the 0/1 event, with ``time``), the model's
    columns in order (an intercept is added by :func:`svyglm`), and ``time`` for a Cox
    model."""

    outcome: str | None
    columns: tuple[str, ...]
    time: str | None = None

    def __post_init__(self) -> None:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"ModelTerms: a column is named twice in {self.columns}")

    @property
    def formula(self) -> str:
        """The same model as a formula text (what results show)."""
        rhs = " + ".join(self.columns)
        if self.time is not None:
            return f"Surv({self.time}, {self.outcome}) ~ {rhs}"
        return f"{self.outcome} ~ {rhs}" if self.outcome else f"~ {rhs}"
