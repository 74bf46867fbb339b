"""Group differences of descriptive and usual-intake analyses (the spec field ``contrast``),
with the design-based test of no difference beside them.

What R users get from ``svyby(..., covmat = TRUE)`` + ``svycontrast`` and gtsummary's
``add_p``. Rows of the result table (:data:`DIFFERENCE_ROLE`, :data:`TEST_ROLE`):

- ``group difference``: one row per pair (level − reference) within each combination of the
  other ``by`` columns (each cycle): the difference, its design-based SE, t statistic, P and
  95% CI on the design df of the two groups' domain. The groups share strata and PSUs, so
  their estimates are correlated: the SE comes from the groups' influence values taken
  together (descriptive; Taylor linearization, as the analysis's own estimates) or from the
  difference in every BRR replicate (usual intake), never from ``sqrt(se1² + se2²)``.
- ``group test``: the overall test that the levels compared do not differ — for a share the
  Rao–Scott second-order F test of the two-way table (R's ``svychisq(~y + group, design)``),
  for a mean or a ratio the Wald F test of the differences against the first level, on
  (k, df − k) degrees of freedom (R's ``regTermTest(svyglm(y ~ group), ~group)`` for a mean).
  ``statistic`` is F, ``df`` the denominator df, ``scale`` names both dfs.

Shares and their differences are fractions (0.05 = 5 percentage points), as the share rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from nhanes_mg.derive.registry import level_words
from nhanes_mg.errors import EstimationError, SpecError
from nhanes_mg.study.analysis_frame import TABLE_SCHEMA, tidy_rows
from nhanes_mg.study.results import DIFFERENCE_ROLE, DIFFERENCE_SCALES, TEST_ROLE
from nhanes_mg.study.spec_types import DescriptiveAnalysis, GroupContrast
from nhanes_mg.survey import SurveyDesign, svyby, svychisq, svycontrast, svymean, svyratio
from nhanes_mg.survey.results import SurveyResult, f_sf

GROUP_COL = "_cg"  # the compared column as text, in the descriptive analysis's frame
RAO_SCOTT, WALD = "Rao–Scott F test", "Wald F test"


def difference_term(level: object, reference: object) -> str:
    """A difference's term in words: ``female − male``, ``non-Hispanic Black − non-Hispanic
    White``.

    >>> difference_term("nh_black", "nh_white")
    'Non-Hispanic Black − Non-Hispanic White'
    """
    return f"{level_words(level)} − {level_words(reference)}"


def levels_in_order(series: pl.Series) -> list[str]:
    """The compared column's levels present, as text: an Enum's own order, else sorted."""
    present = set(series.drop_nulls().cast(pl.String).to_list())
    if isinstance(series.dtype, pl.Enum):
        return [v for v in series.dtype.categories.to_list() if v in present]
    return sorted(present)


def resolve_pairs(contrast: GroupContrast, levels: list[str], where: str) -> list[tuple[str, str]]:
    """The (level, reference) pairs of a contrast, given the levels in the data (in order)."""
    if not contrast.pairs:
        return [(x, levels[0]) for x in levels[1:]]
    for pair in contrast.pairs:
        for level in pair:
            if level not in levels:
                raise SpecError(
                    f"{where}: contrast: {level!r} is not a level of {contrast.variable} in the "
                    f"data (levels: {', '.join(levels)})"
                )
    return list(contrast.pairs)


def descriptive_contrast_rows(
    analysis: DescriptiveAnalysis,
    domain: SurveyDesign,
    pairs: list[tuple[str, str]],
    levels: list[str],
    **columns: Any,
) -> pl.DataFrame:
    """The difference rows and the test row of one combination of the other ``by`` columns.

    ``domain`` holds the analysis's rows of that combination (with the value, the
    denominator of a ratio and the compared level known); the frame has the value ``_v``,
    the denominator ``_den`` and the compared column as text ``_cg``. ``pairs`` whose levels
    are not all in the domain are left out; ``columns`` fill the rows' other columns (cycle,
    group, subgroup, outcome).
    """
    active = domain.frame.filter(pl.Series(domain.domain & (domain.weights > 0)))
    present = set(active[GROUP_COL].to_list())
    pairs = [p for p in pairs if p[0] in present and p[1] in present]
    if not pairs:
        return pl.DataFrame(schema=TABLE_SCHEMA)
    involved = [x for x in levels if any(x in p for p in pairs)]
    domain = domain.subset(pl.col(GROUP_COL).is_in(involved))
    df = float(domain.df)
    if analysis.statistic == "ratio":
        fit = svyby("_v", GROUP_COL, domain, svyratio, covmat=True, denominator="_den", df=df)
    else:  # a share's SE and covariance are those of the mean of its 0/1 values
        fit = svyby("_v", GROUP_COL, domain, svymean, covmat=True, na_rm=True, df=df)
    index = {str(g): i for i, g in enumerate(fit.extra["groups"][GROUP_COL].to_list())}  # type: ignore[index]
    n = np.asarray(fit.n)
    named = {
        difference_term(a, b): {fit.terms[index[a]]: 1.0, fit.terms[index[b]]: -1.0}
        for a, b in pairs
    }
    tidy = svycontrast(fit, named).tidy()
    tidy = tidy.with_columns(n=pl.Series([int(n[index[a]] + n[index[b]]) for a, b in pairs]))
    rows = tidy_rows(
        tidy,
        analysis=analysis.name,
        role=DIFFERENCE_ROLE,
        scale=DIFFERENCE_SCALES[analysis.statistic],
        model="descriptive",
        **columns,
    )
    if analysis.statistic == "proportion":
        test = svychisq(["_v", GROUP_COL], domain, statistic="F")
        name, f, ndf, ddf, p = RAO_SCOTT, test.statistic, test.ndf, test.ddf, test.p_value
    else:
        name, (f, ndf, ddf, p) = WALD, _wald_f(fit, [index[x] for x in involved], df)
    test_row = pl.DataFrame(
        {
            "term": [name],
            "statistic": [f],
            "p_value": [p],
            "df": [ddf],
            "n": [int(sum(n[index[x]] for x in involved))],
        }
    )
    test_rows = tidy_rows(
        test_row,
        analysis=analysis.name,
        role=TEST_ROLE,
        scale=f"F on {ndf:.4g} and {ddf:.4g} df",
        model="descriptive",
        **columns,
    )
    return pl.concat([rows, test_rows])


def _wald_f(fit: SurveyResult, order: list[int], df: float) -> tuple[float, float, float, float]:
    """Wald F of "every group equal": the k differences from the first group, F = W / k on
    (k, df − k) degrees of freedom (R: ``regTermTest(svyglm(y ~ group), ~group)``, whose
    residual df is the design df + 1 − the model's k + 1 coefficients)."""
    assert fit.vcov is not None
    k = len(order) - 1
    weights = np.zeros((k, len(fit.terms)))
    for row, j in enumerate(order[1:]):
        weights[row, j], weights[row, order[0]] = 1.0, -1.0
    d = weights @ np.asarray(fit.estimate)
    v = weights @ fit.vcov @ weights.T
    try:
        w = float(d @ np.linalg.solve(v, d))
    except np.linalg.LinAlgError:
        raise EstimationError("the differences between groups have a singular covariance") from None
    ddf = df - k
    f = w / k
    p = f_sf(f, k, ddf) if ddf > 0 else math.nan
    return f, float(k), ddf, p
