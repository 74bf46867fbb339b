"""Write ``docs/specification.md``, the field reference of specifications, from the parser.

    .venv/bin/python scripts/make_spec_reference.py

``tests/test_spec_reference.py`` fails when the committed file differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

from nhanes_mg.study.spec_reference import render

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "specification.md"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
