"""Writing a figure: one resolution for every PNG the package makes, written atomically, and
text drawn as the words it is — never as matplotlib mathtext, so that a label a specification
brought (``$\\undefined{x}$``) is printed, not parsed (and cannot fail the run late).

What a figure draws goes to plotnine through :func:`plot_data`, the one boundary between the
package's polars frames and the pandas plotnine draws from.

Examples
--------
>>> import tempfile, pathlib
>>> from plotnine import aes, geom_point, ggplot, labs
>>> import polars as pl
>>> plot = ggplot(pl.DataFrame({"x": [1, 2]}).to_pandas(), aes("x", "x")) + geom_point()
>>> target = pathlib.Path(tempfile.mkdtemp()) / "f.png"
>>> save_png(plot + labs(title="$\\\\undefinedmacro{x}$"), target)  # mathtext would fail
>>> target.read_bytes()[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nhanes_mg.files import atomic_write

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

DPI = 120  # every figure's resolution


def save_png(plot: Any, path: Path) -> None:
    """Save a plotnine ``plot`` as PNG at ``path`` (atomically, at :data:`DPI`), its text
    never parsed as mathtext.

    The bytes are those of ``plot.save(path, dpi=DPI)``, drawn once instead of twice:
    ``Figure.savefig`` first draws a figure that has a layout engine (plotnine gives every
    figure one) with rendering switched off, for the layout, then draws it again to render;
    Agg's ``print_png`` draws once, running the layout engine as it starts. plotnine's
    ``save_helper`` builds the figure exactly as ``save`` would. ``scripts/bench_figures.py``
    draws a claim's figures both ways and prints the ratio and whether the bytes are equal.
    """
    # lazy: the caller has drawn with plotnine, so matplotlib is loaded already
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    def save(target: Path) -> None:
        with warnings.catch_warnings(), matplotlib.rc_context({"text.parse_math": False}):
            warnings.simplefilter("ignore")  # plotnine's notes on saving are not for users
            with _text_as_objects(), cycle_collector_paused():
                view = plot.save_helper(filename=target, format="png", dpi=DPI, verbose=False)
                with matplotlib.rc_context(plot.theme.rcParams):  # as plotnine's save
                    FigureCanvasAgg(view.figure).print_png(target)

    atomic_write(path, save)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while one figure is drawn, back as it was after.

    plotnine and matplotlib make tens of thousands of small objects for a figure, many in
    reference cycles (artists, their figure, transforms); the collector, started every 700
    new objects, scanned them again and again: about a fifth of a figure's time
    (``scripts/bench_figures.py`` prints the ratio). The cycles of one figure wait for the
    next collection instead, as any others.

    >>> import gc
    >>> with cycle_collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _text_as_objects() -> Iterator[None]:
    """pandas building the frames plotnine makes as it draws with text as Python str (see
    :func:`plot_data`): pandas 2 does so by default, and pandas 4 will not offer the choice."""
    import pandas as pd

    try:
        pd.get_option("future.infer_string")
    except (KeyError, AttributeError):  # pandas 4: the option is gone (OptionError is both)
        yield
        return
    with pd.option_context("future.infer_string", False):
        yield


def plot_data(
    data: pl.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
) -> pd.DataFrame:
    """A polars frame, rows or columns, as the pandas frame plotnine draws from, its text as
    Python str.

    pandas 3 holds text (and column names) in pyarrow-backed arrays by default, and plotnine's
    many small operations per group and panel (subsets, lookups, concatenations) are slower
    on them: ``scripts/bench_figures.py`` draws a claim's figures both ways and prints the
    ratio (the PNGs are the same bytes). :func:`save_png` has pandas make plotnine's own
    frames the same way while it draws.

    >>> import polars as pl
    >>> plot_data(pl.DataFrame({"panel": ["a"], "estimate": [1.0]})).dtypes.to_dict()
    {'panel': dtype('O'), 'estimate': dtype('float64')}
    """
    import pandas as pd  # lazy: only a process that draws needs it
    import polars as pl

    frame = data.to_pandas() if isinstance(data, pl.DataFrame) else pd.DataFrame(data)
    text = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    return frame.astype(dict.fromkeys(text, object)) if text else frame
