"""Writing a figure: one resolution for every PNG the package makes, written atomically, and
text drawn as the words it is — never as matplotlib mathtext, so that a label a specification
brought (``$\\undefined{x}$``) is printed, not parsed (and cannot fail the run late).

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

import warnings
from pathlib import Path
from typing import Any

from nhanes_mg.files import atomic_write

DPI = 120  # every figure's resolution


def save_png(plot: Any, path: Path) -> None:
    """Save a plotnine ``plot`` as PNG at ``path`` (atomically, at :data:`DPI`), its text
    never parsed as mathtext."""
    # lazy: the caller has drawn with plotnine, so matplotlib is loaded already
    import matplotlib

    def save(target: Path) -> None:
        with warnings.catch_warnings(), matplotlib.rc_context({"text.parse_math": False}):
            warnings.simplefilter("ignore")  # plotnine's notes on saving are not for users
            plot.save(target, format="png", dpi=DPI, verbose=False)

    atomic_write(path, save)
