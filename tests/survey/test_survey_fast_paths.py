"""The fast paths equal the general ones they replace.

- column encodings (Arrow string views, numeric buffers) equal polars' casts;
- the design structure (stratum and PSU numbers) equals polars' dense ranks;
- the model matrix of simple formulas (plain names and ``C(name)``) equals formulaic's, in
  any row order, and its cell description equals the dense matrix;
- the cell products of the GLM equal the dense products.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nhanes_mg.survey import SurveyDesign, model_matrix, svyglm
from nhanes_mg.survey.design import build_structure, encode_column
from nhanes_mg.survey.glm import CellOps, DenseOps


def _reference_codes(s: pl.Series) -> tuple[list[object], np.ndarray]:
    levels = sorted(s.drop_nulls().unique().to_list())
    codes = s.cast(pl.Enum(levels)).to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
    return levels, codes


@pytest.mark.parametrize(
    "values",
    [
        ["b", "a", None, "b", "c"],
        ["q1", "q4", None, "q2", "q1"],
        ["2001-2002", "2005-2006", None, "2003-2004"],  # 9 bytes: two words
        ["Mexican American", "Other Hispanic", None, "Other"],  # > 12 bytes: polars path
        ["", "a", "", None, "abcdefgh"],
        ["é", "日本語", "ñandú€", None, "ü"],
        ["x" * 12, "x" * 11, "x", "x" * 4, "x" * 5],
        [None, None, None],
        ["only"],
    ],
)
def test_text_encoding_equals_polars(values: list[str | None]) -> None:
    s = pl.Series(values * 7, dtype=pl.String)
    for part in (s, s[3:], s[:2], s.slice(5, 9)):
        enc = encode_column(part)
        levels, codes = _reference_codes(part)
        assert enc.levels == levels
        assert np.array_equal(enc.data.astype(np.int64), codes)
        assert np.array_equal(enc.missing, part.is_null().to_numpy())


def test_text_encoding_random() -> None:
    rng = np.random.default_rng(11)
    alphabet = list("ab1é-Z ")
    words = ["".join(rng.choice(alphabet, rng.integers(0, 14))) for _ in range(300)]
    s = pl.Series([None if rng.uniform() < 0.1 else w for w in rng.choice(words, 5000)])
    enc = encode_column(s)
    levels, codes = _reference_codes(s)
    assert enc.levels == levels and np.array_equal(enc.data.astype(np.int64), codes)


@pytest.mark.parametrize(
    "dtype",
    [pl.Float64, pl.Float32, pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt32,
     pl.UInt64, pl.Boolean],
)  # fmt: skip
def test_numeric_encoding_equals_polars(dtype: pl.DataType) -> None:
    raw = [1, None, 0, 3, None, 1] * 5 if dtype != pl.Boolean else [True, None, False] * 10
    s = pl.Series(raw, dtype=dtype)
    for part in (s, s[1:], s.drop_nulls()):
        enc = encode_column(part)
        expected = part.cast(pl.Float64).fill_null(np.nan).to_numpy()
        assert np.array_equal(enc.data, expected, equal_nan=True)
        assert enc.integer == (dtype != pl.Float64 and dtype != pl.Float32)
        assert not enc.data.flags.writeable


@pytest.mark.parametrize(
    ("strata", "psu"),
    [
        ([3.0, 1.0, 2.0, 1.0, 3.0, 2.0, 1.0, 3.0], [2.0, 1.0, 1.0, 2.0, 1.0, 2.0, 1.0, 2.0]),
        ([10**6, 5, 5, 10**6, 7, 7, 5, 7], [1, 2, 1, 2, 1, 2, 1, 1]),  # wide range
        ([0.5, 1.5, 0.5, 1.5, 2.25, 2.25, 0.5, 1.5], [9, 9, 8, 8, 1, 2, 9, 8]),
        (["b", "a", "b", "a", "c", "c", "b", "a"], ["x", "y", "y", "x", "x", "y", "x", "y"]),
    ],
)
def test_structure_equals_polars_ranks(strata: list[object], psu: list[object]) -> None:
    frame = pl.DataFrame({"s": strata, "p": psu, "w": [1.0] * len(strata)})
    columns = {c: encode_column(frame[c]) for c in ("s", "p")}
    structure = build_structure(frame, "s", "p", columns)
    ranks = frame.select(
        pl.col("s").rank("dense").cast(pl.Int64) - 1,
        pl.struct("s", "p").rank("dense").cast(pl.Int64).alias("p") - 1,
    )
    assert np.array_equal(structure.stratum, ranks["s"].to_numpy())
    assert np.array_equal(structure.psu, ranks["p"].to_numpy())
    assert structure.stratum_labels == frame["s"].unique().sort().to_list()


def _shuffled_toy(seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = 360
    return (
        pl.DataFrame(
            {
                "sdmvstra": np.repeat(np.arange(1, 7), 60),
                "sdmvpsu": np.tile(np.repeat([1, 2, 3], 20), 6),
                "wt_mec": rng.uniform(1, 3, n),
                "x": rng.normal(size=n),
                "g": rng.choice(["a", "b", "c"], n),
                "h": rng.choice(["u", "v"], n),
                "code": rng.choice([1, 2, 3, 4], n),
                "fcode": rng.choice([1.0, 2.0, 3.0], n),
                "flag": rng.uniform(size=n) < 0.4,
                "y": rng.integers(0, 2, n),
            }
        )
        .with_columns(
            pl.when(pl.int_range(pl.len()) % 17 == 0).then(None).otherwise("x").alias("x")
        )
        .sample(fraction=1.0, shuffle=True, seed=seed)
    )


@pytest.mark.parametrize(
    ("formula", "reference"),
    [
        ("y ~ x + g + code", {"code": 3}),
        ("y ~ g + x + fcode", {"fcode": 2.0, "g": "b"}),
        ("y ~ x + C(code) + h", {}),
        ("y ~ C(fcode) + C(g) + flag", {}),
        ("y ~ x + C(flag)", {}),
        ("y ~ x", {}),
    ],
)
def test_fast_model_matrix_equals_formulaic_any_row_order(
    formula: str, reference: dict[str, object]
) -> None:
    design = SurveyDesign(_shuffled_toy(), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    domain = design.subset(pl.col("wt_mec") > 1.2)
    fast = model_matrix.build(domain, formula, reference=reference, lazy_dense=True)
    slow = model_matrix.build(domain, formula, reference=reference, engine="formulaic")
    assert fast.columns == slow.columns and fast.term_columns == slow.term_columns
    np.testing.assert_array_equal(fast.rows, slow.rows)
    order = np.argsort(fast.index)  # fast rows are grouped by PSU; formulaic's in frame order
    np.testing.assert_array_equal(fast.X[order], slow.X)
    np.testing.assert_array_equal(np.asarray(fast.y)[order], slow.y)
    assert fast.psu is not None
    np.testing.assert_array_equal(fast.psu, design.psu_index[fast.index])
    if fast.cells is None:  # rows grouped by PSU
        assert np.all(np.diff(fast.psu) >= 0)
    else:  # rows sorted by cell; the cell description equals the dense matrix
        cells = fast.cells
        assert np.all(np.diff(cells.cell) >= 0)
        np.testing.assert_array_equal(np.bincount(cells.cell), cells.counts)
        np.testing.assert_array_equal(fast.X[:, cells.columns], cells.values[cells.cell])
        np.testing.assert_array_equal(fast.X[:, cells.continuous], cells.xc)
        if cells.intercept is not None:
            assert np.all(fast.X[:, cells.intercept] == 1)
        terms = zip(cells.level_of_cell, cells.n_levels, cells.first_columns, strict=True)
        for level_of_cell, k, col0 in terms:
            dummies = fast.X[:, col0 : col0 + k - 1]
            level = level_of_cell[cells.cell]
            np.testing.assert_array_equal(dummies, level[:, None] == np.arange(1, k))


def test_cell_products_equal_dense_products() -> None:
    design = SurveyDesign(_shuffled_toy(7), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    data = model_matrix.build(
        design, "y ~ x + g + h + code", reference={"code": 2}, lazy_dense=True
    )
    assert data.cells is not None and data.psu is not None
    X = data.X
    cell, dense = CellOps(data.cells, X.shape[1]), DenseOps(X)
    rng = np.random.default_rng(0)
    w, v, beta = rng.uniform(size=len(X)), rng.normal(size=len(X)), rng.normal(size=X.shape[1])
    np.testing.assert_allclose(cell.gram(w), dense.gram(w), rtol=1e-13)
    np.testing.assert_allclose(cell.tmul(v), dense.tmul(v), rtol=1e-13)
    np.testing.assert_allclose(cell.mul(beta), dense.mul(beta), rtol=1e-13)
    n_psu = design.n_psu
    np.testing.assert_allclose(
        cell.psu_totals(v, data.psu, n_psu), dense.psu_totals(v, data.psu, n_psu), rtol=1e-12
    )


def test_glm_same_fit_in_any_row_order() -> None:
    """Row order changes only the order of sums: the fits agree to rounding."""
    frame = _shuffled_toy(9)
    fits = [
        svyglm(
            "y ~ x + g + h + code",
            SurveyDesign(f, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec"),
            family="quasibinomial",
        )
        for f in (frame, frame.sort("sdmvstra", "sdmvpsu"), frame.reverse())
    ]
    for fit in fits[1:]:
        np.testing.assert_allclose(fit.estimate, fits[0].estimate, rtol=1e-12)
        np.testing.assert_allclose(fit.std_error, fits[0].std_error, rtol=1e-10)


def test_encoding_of_some_rows_equals_encoding_of_those_rows() -> None:
    rng = np.random.default_rng(4)
    n = 400
    frame = pl.DataFrame(
        {
            "short": rng.choice(["a", "bb", None, "é"], n),
            "words": rng.choice(["2001-2002", "2003-2004", None], n),
            "long": rng.choice(["Non-Hispanic White", "Mexican American", None], n),
            "x": np.where(rng.uniform(size=n) < 0.1, None, rng.normal(size=n)),
            "k": rng.integers(0, 9, n),
        },
        strict=False,
    )
    rows = rng.permutation(n)[:150]
    for name in frame.columns:
        part = encode_column(frame[name], rows)
        whole = encode_column(frame[name].gather(rows))
        assert part.levels == whole.levels
        np.testing.assert_array_equal(part.data, whole.data)


def test_fit_the_same_whether_columns_were_encoded_whole_or_for_the_domain() -> None:
    frame = _shuffled_toy(12)
    formula = "y ~ x + g + h + C(code)"
    fresh = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    warmed = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    for column in ("y", "x", "g", "h", "code"):
        warmed.encoded(column)  # whole columns first: the domain takes from them
    domain = pl.col("wt_mec") < 2.5
    a = svyglm(formula, fresh.subset(domain), family="quasibinomial")
    b = svyglm(formula, warmed.subset(domain), family="quasibinomial")
    assert a.tidy().equals(b.tidy())
