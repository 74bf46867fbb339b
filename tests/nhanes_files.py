"""Small NHANES-shaped files the tests write themselves (XPT via pyreadstat, mortality text)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat


def write_xpt(path: Path, columns: dict[str, list[float]], table: str | None = None) -> Path:
    """Write a SAS v5 transport file (pyreadstat wants pandas: the library boundary)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_xport(
        pd.DataFrame(columns),
        str(path),
        table_name=table or path.stem[:8],
        file_format_version=5,  # what CDC publishes
    )
    return path


def demo_columns(n: int = 5, start: int = 31127) -> dict[str, list[float]]:
    return {
        "SEQN": [float(start + i) for i in range(n)],
        "RIAGENDR": [float(1 + i % 2) for i in range(n)],
        "RIDAGEYR": [float(20 + i) for i in range(n)],
        "WTMEC2YR": [1000.0 + i for i in range(n)],
        "SDMVPSU": [float(1 + i % 2) for i in range(n)],
        "SDMVSTRA": [44.0] * n,
    }


MORT_2015_LINES = [
    "31127         2.   ..                       .  .",
    "31128         10   ..                     150150",
    "31129         1100710                     58 57 ",
]
# 2019 release: trailing blanks trimmed
MORT_2019_LINES = [
    "62161         10   ..                     93 92",
    "62162         2.   ..                     .  .",
    "62163         1100210                     58 57",
]


def mort_2011_line(
    seqn: int, elig: str, mort: str, ucod: str, permth_int: str, permth_exm: str
) -> str:
    """One line of the 54-wide 2011 layout (CAUSEAVL at 17 shifts the causes by one)."""
    line = (
        f"{seqn:<14}{elig}{mort}1{ucod:>3}10"  # 1-22: id, ELIGSTAT, MORTSTAT, CAUSEAVL, UCOD, ..
        + " " * 21  # 23-43: death quarter/year and adjusted weights (not read)
        + f"{permth_int:<3}{permth_exm:<3}"  # 44-49
        + "11000"  # 50-54: sources
    )
    assert len(line) == 54
    return line


MORT_2011_LINES = [
    mort_2011_line(31127, "1", "1", "001", "96", "95"),
    mort_2011_line(31128, "2", ".", ".", ".", "."),
]


def write_mortality(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("ascii"))
    return path
