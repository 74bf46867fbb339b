"""nhanes-mg: magnesium, calcium and vitamin D claims checked on public NHANES data.

The pipeline, one module a step: :mod:`catalog` → :mod:`fetch` → :mod:`read` → derive →
survey design → models → report.
"""

from nhanes_mg.errors import NhanesError

__version__ = "0.1.0"
__all__ = ["NhanesError", "__version__"]
