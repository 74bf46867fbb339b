"""The one number formatter: the rules a reader of every table, figure and terminal line sees."""

from __future__ import annotations

import pytest

from nhanes_mg import numbers


@pytest.mark.parametrize(
    ("args", "kwargs", "text"),
    [
        ((0.8101, 0.6523, 0.9951), {"null": 1.0}, "0.810 (0.652–0.995)"),  # not "1.00"
        ((0.48, 0.30, 0.78), {"null": 1.0}, "0.48 (0.30–0.78)"),
        ((1.004, 1.0004, 1.008), {"null": 1.0}, "1.0040 (1.0004–1.0080)"),
        ((0.797, 0.6, 1.06), {"null": 1.0}, "0.80 (0.60–1.06)"),  # trailing zero kept
        ((3.16, 3.0, 3.17), {}, "3.16 (3.00–3.17)"),
        ((0.669, 0.636, 0.703), {"percent": True}, "66.9% (63.6–70.3%)"),
        ((14.9, 13.4, 16.4), {}, "14.9 (13.4–16.4)"),
        ((-3.36, -5.42, -1.30), {"null": 0.0}, "−3.36 (−5.42 to −1.30)"),
        ((-5.0, -6.05, -3.82), {}, "−5.00 (−6.05 to −3.82)"),
        ((-0.0051, -0.00602, -0.00417), {"null": 0.0}, "−0.00510 (−0.00602 to −0.00417)"),
        ((1444.93, 1414.2, 1475.6), {}, "1445 (1414–1476)"),
    ],
)
def test_intervals_show_the_side_of_the_null(
    args: tuple[float, float, float], kwargs: dict[str, object], text: str
) -> None:
    assert numbers.estimate_ci(*args, **kwargs) == text  # type: ignore[arg-type]


def test_one_minus_sign_and_no_negative_zero() -> None:
    assert "-" not in numbers.estimate_ci(-1.2, -2.5, 0.1)
    assert numbers.number(-0.0001) == "−0.000100"
    assert numbers.estimate_ci(0.2, -0.001, 0.5) == "0.20 (0.00–0.50)"  # rounds to 0: no sign
    assert numbers.mean_se(-0.001, 0.2) == "0.00 (0.20)"  # rounds to zero: no sign


def test_missing_values_print_nothing() -> None:
    nan = float("nan")
    assert numbers.estimate_ci(nan, 1, 2) == ""
    assert numbers.estimate_ci(1.0, nan, 2) == "1.00"
    assert numbers.p_value(nan) == numbers.count(None) == numbers.number(float("inf")) == ""
