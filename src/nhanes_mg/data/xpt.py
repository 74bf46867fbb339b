"""SAS transport (XPT v5) files, the format CDC publishes NHANES in, read into polars with numpy.

Written by hand because the library that reads them, pyreadstat, was 86% of a first build's
parse (``scripts/bench_parse.py``): it converts value by value in C and hands polars Python
objects. A v5 file is a fixed layout (80-byte header records, one 140-byte descriptor per
variable, then fixed-width rows of big-endian IBM doubles and blank-padded text), so a whole
table converts in a few array operations. The frames are pyreadstat's, value for value and type
for type (``scripts/bench_parse.py DATA_DIR --compare`` compares every table of a data dir,
``tests/test_data_xpt.py`` a cycle's and every one with text, and files written byte by byte):

- numbers are Float64; SAS missing values (``.``, ``._``, ``.A`` … ``.Z``) are null, and a
  column with no value at all is of polars' ``Null`` type, as pyreadstat makes it;
- text is UTF-8 with its trailing blanks removed (an empty value is ``""``, not null);
- labels are the descriptors' 40-character labels, blanks removed.

A file of two datasets, which pyreadstat reads as one table of garbled rows, is refused.
What this reader does not do the same way it leaves to pyreadstat (:func:`read_v5` returns
None): SAS v8 transport files (long names and labels) and variables with a SAS format, which
pyreadstat turns into dates or times. No NHANES table has either.

Examples
--------
>>> import pandas, pyreadstat, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "T.xpt"
>>> pyreadstat.write_xport(pandas.DataFrame({"SEQN": [1.0, None], "ID": ["a ", ""]}),
...                        str(path), table_name="T", file_format_version=5)
>>> frame, labels = read_v5(path)
>>> frame.rows()
[(1.0, 'a'), (None, '')]
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from nhanes_mg.errors import InvalidFileError

RECORD = 80  # every header record, and the unit the data block is padded to
_HEADER = b"HEADER RECORD*******"
_LIBRARY_V5 = _HEADER + b"LIBRARY HEADER RECORD!!!!!!!"
_MEMBER = _HEADER + b"MEMBER  HEADER RECORD!!!!!!!"
_NAMESTR = _HEADER + b"NAMESTR HEADER RECORD!!!!!!!"
_OBS = _HEADER + b"OBS     HEADER RECORD!!!!!!!"
_DESCRIPTOR = struct.Struct(">hhhh8s40s8shhh2s8shhl")  # a namestr's first 88 bytes
NUMERIC, TEXT = 1, 2  # a namestr's ntype
_BLANK = 0x20


@dataclass(frozen=True)
class Variable:
    """One variable's descriptor (namestr): where its bytes sit in a row and what they hold."""

    name: str
    label: str
    numeric: bool
    length: int  # bytes in a row
    offset: int  # from the row's start
    has_format: bool


def read_v5(path: Path) -> tuple[pl.DataFrame, dict[str, str]] | None:
    """A v5 transport file's first dataset and its variables' non-blank labels.

    Returns None for a file this reader leaves to pyreadstat (see the module's docstring).

    Raises
    ------
    InvalidFileError
        A header, descriptor or row that is not what the v5 layout says (the message names
        the file and what is wrong).
    """
    data = path.read_bytes()
    if not data.startswith(_LIBRARY_V5):
        return None
    variables, start = _variables(data, path)
    if any(v.has_format for v in variables):
        return None
    rows = _rows(data, start, sum(v.length for v in variables), path)
    columns = _numbers(rows, [v for v in variables if v.numeric])
    for v in variables:
        if not v.numeric:
            columns[v.name] = _text(rows, v, path)
    frame = pl.DataFrame([columns[v.name] for v in variables])
    return frame, {v.name: v.label for v in variables if v.label}


def _variables(data: bytes, path: Path) -> tuple[list[Variable], int]:
    """The descriptors, and where the first row starts."""
    member = 3 * RECORD
    if not data[member:].startswith(_MEMBER):
        raise InvalidFileError(f"{path}: has no member header where SAS v5 transport puts it")
    size = _number(data[member + 74 : member + 78], path, "descriptor size")
    if size not in (136, 140):
        raise InvalidFileError(f"{path}: variable descriptors of {size} bytes (v5: 140 or 136)")
    names = member + 4 * RECORD  # after the member's descriptor header and its two records
    if not data[names:].startswith(_NAMESTR):
        raise InvalidFileError(f"{path}: has no variable list where SAS v5 transport puts it")
    count = _number(data[names + 54 : names + 58], path, "variable count")
    start = names + RECORD
    end = start + count * size
    if count <= 0 or end > len(data):
        raise InvalidFileError(f"{path}: declares {count} variables that are not all there")
    variables, width, seen = [], 0, set()
    for i in range(count):
        raw = data[start + i * size : start + i * size + _DESCRIPTOR.size].ljust(_DESCRIPTOR.size)
        ntype, _, length, _, name, label, form, *_, offset = _DESCRIPTOR.unpack(raw)
        variable = Variable(
            name=name.decode("latin-1").rstrip(" \0"),
            label=label.decode("latin-1").rstrip(" \0"),
            numeric=ntype == NUMERIC,
            length=length,
            offset=offset,
            has_format=bool(form.strip(b" \0")),
        )
        bad = (
            ntype not in (NUMERIC, TEXT)
            or not variable.name
            or not (2 if variable.numeric else 1) <= length <= (8 if variable.numeric else 200)
            or offset != width  # v5 rows are the variables packed in order
        )
        if bad:
            raise InvalidFileError(f"{path}: variable {i + 1} has a damaged descriptor")
        if variable.name in seen:
            raise InvalidFileError(f"{path}: variable {variable.name} is declared twice")
        seen.add(variable.name)
        variables.append(variable)
        width += length
    obs = -(-end // RECORD) * RECORD
    if not data[obs:].startswith(_OBS):
        raise InvalidFileError(f"{path}: has no data header after its variable list")
    return variables, obs + RECORD


def _number(field: bytes, path: Path, what: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise InvalidFileError(f"{path}: its {what} is not a number ({field!r})") from None


def _rows(data: bytes, start: int, width: int, path: Path) -> np.ndarray:
    """The data block as a (rows, width) byte matrix, without the final record's padding.

    The block ends padded with blanks to a whole 80-byte record, so a row of blanks that lies
    in that padding is not a row, as ReadStat reads it. A file of two datasets is refused:
    ReadStat reads the second's headers as rows of the first, and one table is one file.
    """
    second = data.find(_MEMBER, start)
    while second != -1 and (second - start) % RECORD:  # headers sit on record boundaries
        second = data.find(_MEMBER, second + 1)
    if second != -1:
        raise InvalidFileError(f"{path}: holds more than one dataset; one table per file")
    block = np.frombuffer(data, dtype=np.uint8, offset=start)
    count = block.size // width
    rows = block[: count * width].reshape(count, width)
    fewest = max(0, -(-(block.size - RECORD + 1) // width))  # padding is under 80 bytes
    while count > fewest and (rows[count - 1] == _BLANK).all():
        count -= 1
    if (block[count * width :] != _BLANK).any():
        raise InvalidFileError(
            f"{path}: its last row is cut short (the file is truncated); delete it and run "
            "`nhanes-mg fetch` again"
        )
    return rows[:count]


def _numbers(rows: np.ndarray, variables: list[Variable]) -> dict[str, pl.Series]:
    """The numeric variables, converted from IBM to IEEE doubles a run of adjacent variables
    at a time (an NHANES table is one run of 8-byte numbers, or a few between text)."""
    out: dict[str, pl.Series] = {}
    for run in _runs(variables):
        first, width = run[0].offset, 8 * len(run)
        if all(v.length == 8 for v in run):  # the rows' bytes seen as numbers, not copied
            ibm = rows[:, first : first + width].view(">u8")
        else:  # shortened numbers: their bytes, zero-padded to 8
            ibm = np.zeros((rows.shape[0], len(run)), dtype=">u8")
            cells = ibm.view(np.uint8).reshape(rows.shape[0], len(run), 8)
            for j, v in enumerate(run):
                cells[:, j, : v.length] = rows[:, v.offset : v.offset + v.length]
        values = ibm_to_ieee(np.ascontiguousarray(ibm.T))  # a variable's values contiguous
        for j, v in enumerate(run):
            column = pl.Series(v.name, values[j], nan_to_null=True)
            out[v.name] = column.cast(pl.Null) if column.null_count() == len(column) else column
    return out


def _runs(variables: list[Variable]) -> list[list[Variable]]:
    """Numeric variables grouped into runs whose bytes are adjacent in a row."""
    runs: list[list[Variable]] = []
    for v in variables:
        last = runs[-1][-1] if runs else None
        if last is not None and last.offset + last.length == v.offset:
            runs[-1].append(v)
        else:
            runs.append([v])
    return runs


def ibm_to_ieee(ibm: np.ndarray) -> np.ndarray:
    """IBM hexadecimal doubles (8 bytes, big-endian) to IEEE doubles; missing values are NaN.

    An IBM double is a sign bit, a 7-bit exponent of 16 biased by 64 and a 56-bit fraction:
    ±fraction · 16^(exponent − 64) / 2^56. As ReadStat (SAS's TS-140 converter) reads them,
    the fraction's bits beyond IEEE's 53 are cut, not rounded; a zero fraction under a
    non-zero first byte is a missing value (SAS writes ``.`` as 0x2E, ``.A`` as 0x41, …);
    the largest magnitude is infinity.

    >>> ibm_to_ieee(np.array([0x4110000000000000, 0xC1A0000000000000, 0, 0x2E << 56],
    ...                      dtype=">u8"))
    array([  1., -10.,   0.,  nan])
    """
    ibm = ibm.astype(np.uint64)
    fraction = ibm & _FRACTION
    if (fraction & np.uint64(7)).any():  # else every fraction converts exactly, uncut
        lead = (fraction >> np.uint64(52)).astype(np.intp)  # top hex digit: 0-3 bits to cut
        fraction &= ~((np.uint64(1) << _SURPLUS_BITS[lead]) - np.uint64(1))
    first = (ibm >> np.uint64(56)).astype(np.uint8)  # sign and exponent
    value = fraction.astype(np.float64)
    value *= _SCALE[first]  # exact: a power of two, far from IEEE's limits
    value[(fraction == 0) & (first != 0)] = np.nan
    infinite = (ibm & np.uint64(0x7FFFFFFFFFFFFFFF)) == np.uint64(0x7FFFFFFFFFFFFFFF)
    if infinite.any():
        value[infinite] = np.copysign(np.inf, _SCALE[first[infinite]])
    return value


_FRACTION = np.uint64(0x00FFFFFFFFFFFFFF)
# bits of a 56-bit fraction beyond a double's 53, by the fraction's top hex digit
_SURPLUS_BITS = np.array([0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3], dtype=np.uint64)
# the value of a fraction of 1 under each first byte: ±16^(exponent - 64) / 2^56
_SCALE = np.array(
    [(-1.0 if byte & 0x80 else 1.0) * 2.0 ** (4 * (byte & 0x7F) - 312) for byte in range(256)]
)


def _text(rows: np.ndarray, variable: Variable, path: Path) -> pl.Series:
    """A text variable: its bytes as UTF-8, trailing blanks removed."""
    cells = np.ascontiguousarray(rows[:, variable.offset : variable.offset + variable.length])
    binary = pl.Series(variable.name, cells.view(f"S{variable.length}").ravel(), dtype=pl.Binary)
    try:
        text = binary.cast(pl.String)
    except pl.exceptions.PolarsError:  # invalid UTF-8 (polars raises ComputeError)
        message = f"{path}: variable {variable.name} holds text that is not UTF-8"
        raise InvalidFileError(message) from None
    return text.str.strip_chars_end(" ")
