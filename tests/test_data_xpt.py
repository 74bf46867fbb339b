"""The package's XPT v5 reader against pyreadstat, the library it replaces for v5 files: on real
NHANES tables, and on files written here byte by byte with what CDC's tables seldom hold
(special missing values, shortened numbers, low fraction bits, text padding, a second
dataset) and with damage."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import polars as pl
import pyreadstat
import pytest
from polars.testing import assert_frame_equal

from nhanes_mg.data import read, xpt
from nhanes_mg.errors import InvalidFileError

from nhanes_files import write_xpt

# header records of a v5 file, as SAS writes them
_LIBRARY = [
    b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!000000000000000000000000000000  ",
    b"SAS     SAS     SASLIB  9.4     X64_7PRO                        01JAN20:00:00:00",
    b"01JAN20:00:00:00".ljust(80),
]
_MEMBER = b"HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140  "
_DSCRPTR = b"HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!000000000000000000000000000000  "
_OBS = b"HEADER RECORD*******OBS     HEADER RECORD!!!!!!!000000000000000000000000000000  "


def _member(name: str, variables: list[tuple[str, int, int, str]], rows: list[bytes]) -> bytes:
    """One dataset: ``variables`` as (name, type 1 numeric / 2 text, length, format)."""
    head = [
        _MEMBER,
        _DSCRPTR,
        b"SAS     " + name.encode().ljust(8) + b"SASDATA 9.4     X64_7PRO".ljust(48)
        + b"01JAN20:00:00:00",
        b"01JAN20:00:00:00".ljust(32) + b"a table".ljust(40) + b"        ",
        b"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000"
        + b"%04d" % len(variables) + b"00000000000000000000  ",
    ]  # fmt: skip
    names, offset = b"", 0
    for number, (var, kind, length, form) in enumerate(variables, 1):
        names += struct.pack(
            ">hhhh8s40s8shhh2s8shhl52s", kind, 0, length, number, _blank_padded(var, 8),
            _blank_padded(f"label of {var}", 40), _blank_padded(form, 8), 0, 0, 0, b"", b"",
            0, 0, offset, b"",
        )  # fmt: skip
        offset += length
    data = b"".join(rows)
    return b"".join(head) + _padded(names, b" ") + _OBS + _padded(data, b" ")


def _blank_padded(text: str, width: int) -> bytes:
    return text.encode().ljust(width)  # as SAS pads names, labels and formats


def _padded(block: bytes, fill: bytes) -> bytes:
    return block + fill * (-len(block) % 80)


def _v5(path: Path, variables: list[tuple[str, int, int, str]], rows: list[bytes]) -> Path:
    path.write_bytes(b"".join(_LIBRARY) + _member(path.stem, variables, rows))
    return path


def _ibm(value: float) -> bytes:
    """A double as an IBM double whose fraction uses all 56 bits (the low 3 are set from the
    value's own bits, as no IEEE writer would): the reader must cut them as ReadStat does."""
    if value == 0:
        return bytes(8)
    sign = 0x80 if value < 0 else 0
    mantissa, exponent = math.frexp(abs(value))  # value = mantissa * 2**exponent, 0.5 <= m < 1
    shift = -exponent % 4
    hex_exponent = (exponent + shift) // 4 + 64
    fraction = int(mantissa * 2**56) >> shift
    fraction |= hash(value) & 7  # bits no double has
    return bytes([sign | hex_exponent]) + fraction.to_bytes(7, "big")


def _read_both(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    parsed = xpt.read_v5(path)
    assert parsed is not None
    expected, meta = pyreadstat.read_xport(str(path), output_format="polars")
    labels = {k: v for k, v in meta.column_names_to_labels.items() if v}
    assert parsed[1] == labels
    return parsed[0], expected


def test_numbers_and_text_read_as_pyreadstat_reads_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    numbers = [float(x) for x in rng.normal(0, 1e3, 40)]
    numbers += [1e-70, -3e70, 0.1, 1.0, 16.0, 0.0, 2.0**-100]
    missing = [b".", b"A", b"Z", b"_"]
    text = [b"  left", b"", b"right   ", b"line\r\n", b"all blank"] * 11
    rows = []
    for i, value in enumerate(numbers + [None] * len(missing)):
        cell = _ibm(value) if value is not None else missing[i - len(numbers)] + bytes(7)
        short = _ibm(float(i))[:3]  # a 3-byte number: the fraction's first 2 bytes
        rows.append(cell + text[i].ljust(12) + short + (bytes([0x2E]) + bytes(7)))
    path = _v5(
        tmp_path / "T.xpt",
        [("X", 1, 8, ""), ("NOTE", 2, 12, ""), ("SHORT", 1, 3, ""), ("EMPTY", 1, 8, "")],
        rows,
    )
    mine, expected = _read_both(path)
    assert_frame_equal(mine, expected, check_exact=True)
    assert mine.schema["EMPTY"] == pl.Null  # no value at all: polars' Null type, as pyreadstat
    assert mine["X"].null_count() == len(missing)
    assert mine["NOTE"][3] == "line\r\n"  # only trailing blanks are cut


def test_the_last_records_padding_is_not_rows(tmp_path: Path) -> None:
    # 3 rows of 10 bytes, then 50 blanks: five more "rows" of blanks that are not rows;
    # the third row itself is blank and lies in the final record, so it cannot be told from
    # padding either: as ReadStat, the reader keeps the rows before it
    rows = [b"first".ljust(10), b"second".ljust(10), b" " * 10]
    path = _v5(tmp_path / "P.xpt", [("WORD", 2, 10, "")], rows)
    mine, expected = _read_both(path)
    assert_frame_equal(mine, expected)
    assert mine["WORD"].to_list() == ["first", "second"]


def test_every_row_kept_when_rows_fill_whole_records(tmp_path: Path) -> None:
    path = write_xpt(tmp_path / "R.xpt", {"SEQN": [float(i) for i in range(20)]})  # 160 bytes
    mine, expected = _read_both(path)
    assert_frame_equal(mine, expected)
    assert mine.height == 20


def test_a_second_dataset_is_refused(tmp_path: Path) -> None:
    # pyreadstat reads the second dataset's headers as rows of the first: refused, named
    path = _v5(tmp_path / "A.xpt", [("N", 1, 8, "")], [_ibm(1.0), _ibm(2.0)])
    path.write_bytes(path.read_bytes() + _member("B", [("M", 1, 8, "")], [_ibm(3.0)]))
    with pytest.raises(InvalidFileError, match=r"A\.xpt: holds more than one dataset"):
        xpt.read_v5(path)


def test_files_it_does_not_read_the_same_way_go_to_pyreadstat(tmp_path: Path) -> None:
    dated = _v5(tmp_path / "D.xpt", [("DAY", 1, 8, "DATE")], [_ibm(0.0), _ibm(366.0)])
    assert xpt.read_v5(dated) is None  # a SAS format: pyreadstat makes dates of it
    assert read.read_xpt(dated)["DAY"].to_list() == [
        pyreadstat.read_xport(str(dated), output_format="polars")[0]["DAY"][i] for i in (0, 1)
    ]
    v8 = tmp_path / "V8.xpt"
    v8.write_bytes(dated.read_bytes().replace(b"LIBRARY HEADER", b"LIBV8   HEADER", 1))
    assert xpt.read_v5(v8) is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b.replace(b"MEMBER  HEADER", b"MEMBER  HEADEX"), "no member header"),
        (lambda b: b.replace(b"NAMESTR HEADER", b"NAMESTX HEADER"), "no variable list"),
        (lambda b: b.replace(b"OBS     HEADER", b"OBX     HEADER"), "no data header"),
        (lambda b: b.replace(b"!!!!!!!0000000002", b"!!!!!!!00000000X2"), "not a number"),
        (lambda b: b.replace(b"X       label", b"\0       label"), "variable 1 has a damaged"),
        (lambda b: b.replace(b"text", b"t\xe9xt"), "variable NOTE holds text that is not UTF-8"),
        (lambda b: b.replace(b"NOTE    label", b"X       label"), "variable X is declared twice"),
    ],
)
def test_damage_is_named(tmp_path: Path, damage: object, message: str) -> None:
    path = _v5(tmp_path / "BAD.xpt", [("X", 1, 8, ""), ("NOTE", 2, 4, "")], [_ibm(1.0) + b"text"])
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(InvalidFileError, match=rf"BAD\.xpt: .*{message}"):
        xpt.read_v5(path)


def test_a_row_cut_short_is_named(tmp_path: Path) -> None:
    rows = [_ibm(float(i)) + b"abcdefghij" for i in range(10)]
    path = _v5(tmp_path / "CUT.xpt", [("X", 1, 8, ""), ("W", 2, 10, "")], rows)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 80] + b"\x41" * 80)  # the last record overwritten
    with pytest.raises(InvalidFileError, match=r"CUT\.xpt: its last row is cut short"):
        xpt.read_v5(path)


def test_real_tables_read_as_pyreadstat_reads_them(mirror_dir: Path) -> None:
    """Every table of one cycle, and every table with text, of the real mirror: the same
    frames and labels (``scripts/bench_parse.py --compare`` checks all of a data dir's)."""
    tables = [
        path
        for path in sorted(mirror_dir.rglob("*.xpt"))
        if path.parent.name == "2005-2006" or not all(v.numeric for v in _variables(path))
    ]
    assert len(tables) > 30
    for path in tables:
        mine, expected = _read_both(path)
        try:
            assert_frame_equal(mine, expected, check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"{path}: {exc}") from None


def _variables(path: Path) -> list[xpt.Variable]:
    return xpt._variables(path.read_bytes(), path)[0]
