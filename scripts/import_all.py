"""Import every module of the installed nhanes_mg: a fresh install must hold all they need.

python scripts/import_all.py     # prints "all N modules import", or each failure (exit 1)
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import nhanes_mg


def main() -> int:
    names = [
        info.name
        for info in pkgutil.walk_packages(nhanes_mg.__path__, "nhanes_mg.")
        if not info.name.endswith("__main__")  # importing it runs the command line
    ]
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    print("\n".join(failed) or f"all {len(names)} modules import (from {nhanes_mg.__file__})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
