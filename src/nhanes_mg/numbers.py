"""How every number the package prints is written: one formatter for tables, figures and terminal.

The rules a journal copy editor applies, declared once:

- trailing zeros are kept (``0.60``, not ``0.6``), and an estimate and its interval share one
  number of decimals;
- two decimals as a rule, none from 100 up, one from 10 up, three significant digits below 0.1
  (a per-mg coefficient is ``−0.00510``, not ``−0.01``); more where rounding would put a bound
  on the null value (0.995 is not shown as 1.00) or merge the two bounds;
- shares are percentages with one decimal;
- one minus sign (U+2212) and one interval style: ``low–high``, or ``low to high`` when a
  bound is negative (``−6.05–−3.82`` reads badly);
- P values with three decimals, ``< 0.001`` below that; counts with thousands separators.

Written by hand because the rule that chooses decimals looks at the estimate, both bounds and
the null together, which no number-formatting library does.

>>> estimate_ci(0.8101, 0.6523, 0.9951, null=1.0)
'0.810 (0.652–0.995)'
>>> estimate_ci(-5.0, -6.05, -3.82)
'−5.00 (−6.05 to −3.82)'
>>> estimate_ci(0.8, 0.6, 1.06)
'0.80 (0.60–1.06)'
>>> p_value(0.00002), p_value(0.0431)
('< 0.001', '0.043')
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MINUS = "−"
DASH = "–"
MAX_EXTRA_DIGITS = 4


def finite(x: object) -> bool:
    """True for an int or float that is neither NaN nor infinite (None and text are not).

    >>> finite(1.5), finite(float("nan")), finite(None)
    (True, False, False)
    """
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def decimals(values: Sequence[float]) -> int:
    """The decimals of values printed together (a column of means): none from 100 up, one
    from 10 up, two as a rule, three significant digits below 0.1.

    >>> decimals([1444.9, 495.8]), decimals([28.7, 27.8]), decimals([2.6, 3.4]), decimals([0.004])
    (0, 1, 2, 5)
    """
    values = [v for v in values if finite(v)]
    if not values:
        return 2
    big = max(abs(v) for v in values)
    if big >= 100:
        return 0
    if big >= 10:
        return 1
    if big >= 0.1 or big == 0:
        return 2
    return 2 - math.floor(math.log10(big))


def _text(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # no "−0.00"
    return text.replace("-", MINUS)


def _digits(values: Sequence[float], null: float | None, percent: bool) -> int:
    """Decimals for an estimate and its bounds (``values[1:]``) read together."""
    digits = 1 if percent else decimals(values)
    bounds = values[1:]
    for extra in range(MAX_EXTRA_DIGITS + 1):
        d = digits + extra
        texts = [f"{v:.{d}f}" for v in bounds]
        on_null = null is not None and any(
            float(t) == round(null, d) and v != null for t, v in zip(texts, bounds, strict=True)
        )
        merged = len(texts) == 2 and texts[0] == texts[1] and bounds[0] != bounds[1]
        if not on_null and not merged:
            return d
    return digits + MAX_EXTRA_DIGITS


def number(value: object, null: float | None = None, percent: bool = False) -> str:
    """One value on its own (empty for a missing one); ``percent`` takes a proportion.

    >>> number(1444.93), number(2.6173), number(0.0051), number(0.547)
    ('1445', '2.62', '0.00510', '0.55')
    >>> number(0.113, percent=True), number(None)
    ('11.3%', '')
    """
    if not finite(value):
        return ""
    v = float(value)  # type: ignore[arg-type]
    scale = 100.0 if percent else 1.0
    n = None if null is None else null * scale
    text = _text(v * scale, _digits([v * scale], n, percent))
    return f"{text}%" if percent else text


def _bounds(low: float, high: float, digits: int) -> str:
    texts = _text(low, digits), _text(high, digits)
    dash = " to " if any(t.startswith(MINUS) for t in texts) else DASH
    return dash.join(texts)


def estimate_ci(
    estimate: object,
    low: object,
    high: object,
    null: float | None = None,
    percent: bool = False,
) -> str:
    """``estimate (low–high)`` with one number of decimals for all three.

    >>> estimate_ci(0.48, 0.30, 0.78, null=1.0)
    '0.48 (0.30–0.78)'
    >>> estimate_ci(0.655, 0.618, 0.690, percent=True)
    '65.5% (61.8–69.0%)'
    >>> estimate_ci(3.16, 3.0, 3.17)
    '3.16 (3.00–3.17)'
    >>> estimate_ci(1.0, None, None)
    '1.00'
    """
    if not finite(estimate):
        return ""
    if not (finite(low) and finite(high)):
        return number(estimate, null=null, percent=percent)
    scale = 100.0 if percent else 1.0
    values = [float(x) * scale for x in (estimate, low, high)]  # type: ignore[arg-type]
    n = None if null is None else null * scale
    digits = _digits(values, n, percent)
    est = _text(values[0], digits)
    bounds = _bounds(values[1], values[2], digits)
    if percent:
        return f"{est}% ({bounds}%)"
    return f"{est} ({bounds})"


def mean_se(mean: object, se: object, percent: bool = False, digits: int | None = None) -> str:
    """``mean (SE)`` as a Table 1 cell: the SE with the mean's decimals (``digits``: those
    of its row, from :func:`decimals`; default: the cell's own).

    >>> mean_se(1444.93, 15.3), mean_se(2.617, 0.0531), mean_se(0.113, 0.0118, percent=True)
    ('1445 (15)', '2.62 (0.05)', '11.3 (1.2)')
    >>> mean_se(6.41, 0.75, digits=1)
    '6.4 (0.8)'
    """
    if not finite(mean):
        return ""
    scale = 100.0 if percent else 1.0
    m = float(mean) * scale  # type: ignore[arg-type]
    s = float(se) * scale if finite(se) else None  # type: ignore[arg-type]
    if digits is None:
        digits = 1 if percent else decimals([m] if s is None else [m, s])
    return _text(m, digits) if s is None else f"{_text(m, digits)} ({_text(s, digits)})"


def given(value: float, percent: bool = False) -> str:
    """A number someone chose (a threshold, a cut point), as they would write it: no padding
    zeros, four significant digits at most.

    >>> given(2.8), given(0.5, percent=True), given(408.25)
    ('2.8', '50%', '408.2')
    """
    text = f"{value * (100 if percent else 1):.4g}".replace("-", MINUS)
    return f"{text}%" if percent else text


def p_value(p: object) -> str:
    """A P value: three decimals, ``< 0.001`` below that, empty when there is none.

    >>> p_value(0.9999), p_value(0.0005), p_value(None)
    ('1.000', '< 0.001', '')
    """
    if not finite(p):
        return ""
    v = float(p)  # type: ignore[arg-type]
    return "< 0.001" if v < 0.001 else f"{v:.3f}"


def count(n: object) -> str:
    """A count with thousands separators (empty when there is none).

    >>> count(10758), count(None)
    ('10,758', '')
    """
    if not finite(n):
        return ""
    return f"{round(float(n)):,}"  # type: ignore[arg-type]
