"""Read NHANES files into polars: SAS transport (XPT) tables and linked-mortality files.

Parsed tables are cached as parquet under ``{data_dir}/.cache/``, keyed by the source file's
sha256, so a second run never parses the same XPT twice and a changed file is parsed afresh.

Examples
--------
>>> import polars as pl, pyreadstat, tempfile, pathlib
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> pyreadstat.write_xport(
...     pl.DataFrame({"SEQN": [1.0, 2.0], "RIAGENDR": [1.0, 2.0]}).to_pandas(),
...     str(tmp / "DEMO_X.xpt"), table_name="DEMO_X")
>>> read_xpt(tmp / "DEMO_X.xpt").schema["SEQN"]
Int64
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pyreadstat

from nhanes_mg import catalog
from nhanes_mg.catalog import Cycle
from nhanes_mg.errors import InvalidFileError, MissingTableError
from nhanes_mg.files import atomic_write

# SAS transport v5 (what CDC publishes) and v8 library headers.
XPT_MAGICS = (
    b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!",
    b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!",
)
_HTML_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")
CACHE_DIR = ".cache"
MANIFEST_NAME = "fetch-manifest.json"

MORTALITY_COLUMNS = (
    "SEQN",
    "ELIGSTAT",
    "MORTSTAT",
    "UCOD_LEADING",
    "DIABETES",
    "HYPERTEN",
    "PERMTH_INT",
    "PERMTH_EXM",
)
# 0-based [start, end) slices of the public layouts. 2015 and 2019 releases share one layout
# (2019 trims trailing blanks); the 2011 release is 54 wide with CAUSEAVL at 17.
_LAYOUT_2015 = {
    "SEQN": (0, 14),
    "ELIGSTAT": (14, 15),
    "MORTSTAT": (15, 16),
    "UCOD_LEADING": (16, 19),
    "DIABETES": (19, 20),
    "HYPERTEN": (20, 21),
    "PERMTH_INT": (42, 45),
    "PERMTH_EXM": (45, 48),
}
_LAYOUT_2011 = {
    "SEQN": (0, 14),
    "ELIGSTAT": (14, 15),
    "MORTSTAT": (15, 16),
    "UCOD_LEADING": (17, 20),
    "DIABETES": (20, 21),
    "HYPERTEN": (21, 22),
    "PERMTH_INT": (43, 46),
    "PERMTH_EXM": (46, 49),
}


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_xpt_bytes(head: bytes, size: int, source: str) -> None:
    """Raise :class:`InvalidFileError` unless ``head`` starts a SAS v5 transport file.

    ``source`` names the file or URL in the message. Catches CDC's HTML error pages (served
    with status 200), empty files and files cut short of a whole 80-byte record.
    """
    lowered = head.lstrip().lower()
    if any(lowered.startswith(tag) for tag in _HTML_STARTS):
        raise InvalidFileError(f"{source}: is an HTML page, not an XPT file (bad URL or CDC error)")
    if size == 0:
        raise InvalidFileError(f"{source}: is empty")
    if not head.startswith(XPT_MAGICS):
        raise InvalidFileError(f"{source}: does not start with a SAS transport (XPT) header")
    if size % 80:
        raise InvalidFileError(
            f"{source}: is truncated ({size} bytes is not a whole number of 80-byte XPT records)"
        )


def validate_xpt(path: Path) -> None:
    """Cheap structural check of an XPT file on disk (header, HTML, truncation)."""
    with open(path, "rb") as fh:
        head = fh.read(512)
    check_xpt_bytes(head, path.stat().st_size, str(path))


def _parse_xpt(path: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    validate_xpt(path)
    try:
        frame, meta = pyreadstat.read_xport(str(path), output_format="polars")
    except Exception as exc:  # pyreadstat raises its own ReadstatError and others
        raise InvalidFileError(f"{path}: cannot be read as XPT ({exc})") from exc
    if not isinstance(frame, pl.DataFrame):  # older pyreadstat returns pandas
        frame = pl.from_pandas(frame)
    if "SEQN" in frame.columns:
        if frame["SEQN"].null_count():
            raise InvalidFileError(f"{path}: has rows without SEQN")
        frame = frame.with_columns(pl.col("SEQN").cast(pl.Int64))
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    return frame, labels


def _cache_paths(cache_dir: Path, digest: str) -> tuple[Path, Path]:
    return cache_dir / f"{digest[:32]}.parquet", cache_dir / f"{digest[:32]}.labels.json"


def read_xpt(
    path: str | Path, cache_dir: str | Path | None = None, digest: str | None = None
) -> pl.DataFrame:
    """Read an XPT table into polars (numeric types kept, ``SEQN`` as Int64).

    With ``cache_dir`` the parsed table is cached as parquet keyed by the file's sha256
    (``digest`` may be passed when it is already known, e.g. from the fetch manifest).

    Raises
    ------
    InvalidFileError
        The file is HTML, truncated, empty or otherwise not XPT (the message names it).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    if cache_dir is None:
        return _parse_xpt(path)[0]
    cache_dir = Path(cache_dir)
    digest = digest or sha256_file(path)
    parquet, labels_json = _cache_paths(cache_dir, digest)
    if parquet.exists():
        try:
            return pl.read_parquet(parquet)
        except Exception:  # a damaged cache entry is re-made, never trusted
            parquet.unlink(missing_ok=True)
    frame, labels = _parse_xpt(path)
    atomic_write(parquet, frame.write_parquet)
    atomic_write(labels_json, lambda p: p.write_text(json.dumps(labels)))
    return frame


def read_xpt_labels(path: str | Path) -> dict[str, str]:
    """Variable labels of an XPT file (empty for files rebuilt without labels)."""
    path = Path(path)
    validate_xpt(path)
    try:
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    except Exception as exc:
        raise InvalidFileError(f"{path}: cannot be read as XPT ({exc})") from exc
    return {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}


def read_mortality(path: str | Path) -> pl.DataFrame:
    """Parse a public-use linked-mortality file (2011, 2015 or 2019 layout).

    Returns SEQN, ELIGSTAT, MORTSTAT, UCOD_LEADING (the three-digit code as text, "001" …
    "010"), DIABETES, HYPERTEN, PERMTH_INT, PERMTH_EXM; "." and blanks are null.

    Raises
    ------
    InvalidFileError
        HTML content, or a line whose width fits none of the public layouts.
    """
    path = Path(path)
    raw = path.read_bytes()
    if any(raw.lstrip()[:64].lower().startswith(tag) for tag in _HTML_STARTS):
        raise InvalidFileError(f"{path}: is an HTML page, not a linked-mortality file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidFileError(f"{path}: is not a plain-text linked-mortality file") from exc
    lines = [line for line in text.replace("\r", "").split("\n") if line.strip()]
    if not lines:
        raise InvalidFileError(f"{path}: is empty")
    widths = pl.Series([len(line) for line in lines])
    widest = int(widths.max())  # type: ignore[arg-type]
    if widest == 54:
        layout, width = _LAYOUT_2011, 54
    elif widest <= 48:
        layout, width = _LAYOUT_2015, 48
    else:
        raise InvalidFileError(
            f"{path}: lines are {widest} characters wide; the public layouts are 48 (2015), "
            "at most 48 with trailing blanks trimmed (2019) or 54 (2011)"
        )
    too_short = (widths < 22).arg_true()
    if len(too_short):
        row = int(too_short[0]) + 1
        raise InvalidFileError(f"{path}: line {row} is only {widths[row - 1]} characters wide")
    line = pl.col("line").str.pad_end(width)
    fields = {}
    for name, (start, end) in layout.items():
        field = line.str.slice(start, end - start).str.strip_chars()
        fields[name] = pl.when(field.is_in([".", ""])).then(None).otherwise(field)
    frame = pl.DataFrame({"line": lines}).select(**fields)
    try:
        frame = frame.with_columns(
            pl.col(c).cast(pl.Int64) for c in MORTALITY_COLUMNS if c != "UCOD_LEADING"
        )
    except pl.exceptions.InvalidOperationError as exc:
        raise InvalidFileError(f"{path}: a numeric field holds text ({exc})") from exc
    return frame.select(MORTALITY_COLUMNS)


def load_table(data_dir: str | Path, component: str, cycle: str | Cycle) -> pl.DataFrame:
    """A component's table for a cycle from a fetched data dir, through the parquet cache.

    >>> load_table("/nowhere", "DEMO", "2005-2006")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    nhanes_mg.errors.MissingTableError: DEMO_D (2005-2006) is not in /nowhere ...
    """
    cycle = catalog.get_cycle(cycle)
    table = catalog.table_name(component, cycle)
    return load_file(data_dir, catalog.xpt_relpath(table, cycle), f"{table} ({cycle.years})")


def load_ingredient_table(data_dir: str | Path, table: str) -> pl.DataFrame:
    """One of the 1999-2006 supplement ingredient tables (DSII, DSBI, DSPI)."""
    if table not in catalog.INGREDIENT_TABLES:
        raise ValueError(f"{table} is not one of {catalog.INGREDIENT_TABLES}")
    return load_file(data_dir, f"{catalog.INGREDIENT_DIR}/{table}.xpt", table)


def load_file(data_dir: str | Path, relpath: str, what: str | None = None) -> pl.DataFrame:
    """An XPT file of a data dir by relative path, through the parquet cache."""
    data_dir = Path(data_dir)
    path = data_dir / relpath
    if not path.exists():
        raise MissingTableError(
            f"{what or relpath} is not in {data_dir} (expected {path}); "
            "run `nhanes-mg fetch` (with --mirror DIR offline) first"
        )
    digest = _recorded_digest(data_dir, relpath, path)
    return read_xpt(path, cache_dir=data_dir / CACHE_DIR, digest=digest)


def load_mortality(data_dir: str | Path, cycle: str | Cycle) -> tuple[pl.DataFrame, int] | None:
    """The newest linked-mortality file present for a cycle ("III" for NHANES III).

    Returns the parsed frame and its release year, or None when no file is present.
    """
    folder = Path(data_dir) / catalog.MORTALITY_DIR
    for release in catalog.MORTALITY_RELEASES:
        path = folder / catalog.mortality_file_name(cycle, release)
        if path.exists():
            return read_mortality(path), release
    return None


def _recorded_digest(data_dir: Path, relpath: str, path: Path) -> str | None:
    """The sha256 the fetch manifest recorded for a file, if the file is untouched since."""
    manifest = data_dir / MANIFEST_NAME
    if not manifest.exists():
        return None
    try:
        entries = json.loads(manifest.read_text())["files"]
        entry = next(e for e in entries if e.get("file") == relpath)
    except (ValueError, KeyError, TypeError, StopIteration, AttributeError):
        return None
    stat = path.stat()
    if entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
        return None  # changed since it was fetched: hash it afresh
    digest = entry.get("sha256")
    return digest if isinstance(digest, str) else None
