"""Expressions of specifications: only columns, literals, operators and listed functions; a
file read, a network address, a sub-query or an unknown function is refused before polars
parses the text (tried as a hostile specification would)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.errors import SpecError
from nhanes_mg.expressions import (
    MAX_LENGTH,
    UnsafeExpressionError,
    check_sql,
    sql_expr,
    variables_of,
)
from nhanes_mg.study.spec import load_spec
from nhanes_mg.usual_intake.domains import parse_condition


@pytest.mark.parametrize(
    "text",
    [
        "age >= 20 AND recall_ok_d1 AND NOT coalesce(pregnant, false)",
        "CASE WHEN age < 9 THEN '1-8' WHEN age < 19 THEN '9-18' ELSE '19+' END",
        "sex = 'female' AND kcal_d1 BETWEEN 500 AND 3500",
        "race_eth IN ('nh white', 'nh black') AND vitd_supp IS NOT NULL",
        "CASE WHEN mg_food_d1 > 0 THEN (ca_food_d1 + ca_supp) / (mg_food_d1 + mg_supp) END",
        "ln(mg_total) - 2 * abs(-x) >= round(y, 1)",
        "CAST(age AS DOUBLE) / 10 > 2",
    ],
)  # fmt: skip
def test_ordinary_expressions_pass(text: str) -> None:
    check_sql(text)
    assert isinstance(sql_expr(text), pl.Expr)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("(SELECT count(*) FROM read_csv('{secret}')) > 0", "a sub-query (SELECT …)"),
        ("read_csv('{secret}') IS NULL", "the function read_csv()"),
        ("read_parquet('https://example.org/x.parquet') IS NULL", "the function read_parquet()"),
        ("age IN (SELECT age FROM frame)", "a sub-query (SELECT …)"),
        ("my_udf(age) > 1", "the function my_udf()"),
        ("age = ?", "a parameter"),
        ("count(*) > 1", "the function count()"),
    ],
)  # fmt: skip
def test_file_reads_network_and_sub_queries_are_refused_before_parsing(
    tmp_path: Path, text: str, said: str
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("PASSWORD-LINE\n1\n")
    hostile = text.format(secret=secret)
    with pytest.raises(UnsafeExpressionError) as info:
        sql_expr(hostile)
    assert str(info.value).startswith(f"{said} is not allowed in an expression")
    assert "PASSWORD-LINE" not in str(info.value)
    # every entry point refuses it the same way: columns lookup, domains, specifications
    with pytest.raises(UnsafeExpressionError):
        variables_of([hostile])
    with pytest.raises(SpecError, match="is not allowed in an expression"):
        parse_condition(hostile, "--domain")
    spec = tmp_path / "hostile.toml"
    spec.write_text(
        'id = "H1"\ntitle = "t"\nclaim = "c"\ncitation = "x"\ncycles = "2005-2006"\n'
        f"population = '''{hostile}'''\n"
        + 'model = "descriptive"\n[[analysis]]\nname = "a"\nstatistic = "mean"\n'
        'variable = "age"\n'
    )
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert f"{spec}: field 'population': {said} is not allowed" in str(err.value)
    assert "PASSWORD-LINE" not in str(err.value)


def test_expressions_are_bounded_in_size() -> None:
    with pytest.raises(UnsafeExpressionError, match="characters long"):
        check_sql("age > 1 AND " * (MAX_LENGTH // 10))
    with pytest.raises(UnsafeExpressionError, match="more than 2,000 parts"):
        check_sql(" AND ".join(f"a{i} > {i}" for i in range(800)))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("(" * 300 + "age" + " + 1)" * 300 + " > 3", "nested too deeply"),  # sqlglot's limit
        ("abs(" * 60 + "age" + ")" * 60 + " > 3", "nested too deeply"),
        ("NOT " * 60 + "(age > 3)", "polars cannot parse it"),  # polars' lower limit
    ],
)  # fmt: skip
def test_deep_nesting_is_one_line_not_a_recursion_error(text: str, said: str) -> None:
    """A hostile expression that would exhaust a parser's recursion is refused in one line,
    without echoing the whole text back."""
    with pytest.raises(UnsafeExpressionError, match=said) as info:
        sql_expr(text)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    with pytest.raises(SpecError, match=said):
        parse_condition(text, "--domain")
    # long flat chains stay allowed: depth is not the limit, nesting is
    assert sql_expr(" AND ".join(f"age > {i}" for i in range(300))).meta.root_names()[0] == "age"


@pytest.mark.parametrize(
    "text",
    [
        "age >= 20 /*! AND (SELECT nosuch FROM read_csv('{secret}')) > 0 */",  # MySQL-style
        "age >= 20 /*! AND read_parquet('https://example.org/x.parquet') IS NULL */",
        "age >= 20 -- AND read_csv('{secret}') IS NULL",
        "age /* a note */ >= 20",
        "/*+ hint */ age >= 20",
        "age >= 20 --",
    ],
)
def test_comments_are_refused_polars_never_runs_what_sqlglot_skips(
    tmp_path: Path, text: str
) -> None:
    """sqlglot reads ``/*! … */`` as a comment, polars runs its content: a comment would hide
    a file read or a download from the allow-list. Refused, in one line, before polars."""
    secret = tmp_path / "secret.csv"
    secret.write_text("PASSWORD-LINE\n1\n")
    hostile = text.format(secret=secret)
    with pytest.raises(UnsafeExpressionError) as info:
        sql_expr(hostile)
    assert str(info.value) == "a comment (-- … or /* … */) is not allowed in an expression"
    with pytest.raises(SpecError, match="a comment"):
        parse_condition(hostile, "--domain")


def test_polars_parses_the_checked_tree_never_the_users_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What polars parses is sqlglot's rendering of the tree that passed the allow-list; comment
    markers inside a string literal are text, not comments."""
    given: list[str] = []
    real = pl.sql_expr

    def spy(text: str) -> pl.Expr:
        given.append(text)
        return real(text)

    monkeypatch.setattr("nhanes_mg.expressions.pl.sql_expr", spy)
    text = "sex  !=  'it''s /* not */ -- a comment'  and   age>=20"
    expr = sql_expr(text)
    assert given[0] == "sex <> 'it''s /* not */ -- a comment' AND age >= 20"
    frame = pl.DataFrame({"sex": ["it's /* not */ -- a comment", "m"], "age": [30, 30]})
    assert frame.select(expr)["sex"].to_list() == [False, True]
