"""Read NHANES files into polars: SAS transport (XPT) tables and linked-mortality files.

Parsed tables are cached as parquet under ``{data_dir}/.cache/``, keyed by the source file's
sha256, so a second run never parses the same XPT twice and a changed file is parsed afresh.
Each entry is stamped with its source (sha256, table, rows) and used only when the stamp matches.
A table of a data dir must have the row count CDC publishes for it (:func:`load_file`): a file
cut on a record boundary passes every header check and would silently lose participants.

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
import re
from pathlib import Path, PurePosixPath

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.data.catalog import Cycle
from nhanes_mg.errors import InvalidFileError, MissingTableError
from nhanes_mg.files import atomic_write, inside, own_folder

# SAS transport v5 (what CDC publishes) and v8 library headers.
XPT_MAGICS = (
    b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!",
    b"HEADER RECORD*******LIBV8   HEADER RECORD!!!!!!!",
)
_HTML_STARTS = (b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")
CACHE_DIR = ".cache"
CACHE_KEY = "nhanes_mg.cache"  # parquet key-value metadata of a cache entry: its source
MANIFEST_NAME = "fetch-manifest.json"
SHA256 = re.compile(r"[0-9a-f]{64}")  # what a sha256 is, and all a cache file name is made of

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
    # lazy: numpy only to parse (a run on a filled cache never loads it here)
    from nhanes_mg.data import xpt

    parsed = xpt.read_v5(path)
    if parsed is None:  # v8, or formatted (date) variables: pyreadstat's reading
        parsed = _read_with_pyreadstat(path)
    frame, labels = parsed
    if "SEQN" in frame.columns:
        if frame["SEQN"].null_count():
            raise InvalidFileError(f"{path}: has rows without SEQN")
        frame = frame.with_columns(pl.col("SEQN").cast(pl.Int64))
    return frame, labels


def _read_with_pyreadstat(path: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    # lazy: pyreadstat only for the files xpt.read_v5 leaves to it (no NHANES table)
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_xport(str(path), output_format="polars")
    except Exception as exc:  # pyreadstat raises its own ReadstatError and others
        raise InvalidFileError(f"{path}: cannot be read as XPT ({exc})") from exc
    if not isinstance(frame, pl.DataFrame):  # older pyreadstat returns pandas
        frame = pl.from_pandas(frame)
    labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    return frame, labels


def _cache_paths(cache_dir: Path, digest: str) -> tuple[Path, Path]:
    """The cache entry of a source with this sha256: two files directly in ``cache_dir``.

    >>> _cache_paths(Path(".cache"), "../../victim/important")
    Traceback (most recent call last):
    ...
    nhanes_mg.errors.InvalidFileError: '../../victim/important' is not a sha256 (64 lowercase ...
    """
    if not isinstance(digest, str) or not SHA256.fullmatch(digest):
        raise InvalidFileError(f"{_shown(digest)} is not a sha256 (64 lowercase hex digits)")
    name = digest[:32]
    return inside(cache_dir, f"{name}.parquet"), inside(cache_dir, f"{name}.labels.json")


def _shown(value: object) -> str:
    """A value read from a file, for a one-line message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_manifest_entry(manifest: Path, entry: object) -> None:
    """Refuse a fetch manifest entry whose fields could name a path outside the data dir: its
    ``file`` must be a plain relative path, its ``sha256`` (which names the parquet cache's
    files) 64 lowercase hex digits. A manifest is the data dir's, so someone else's.

    >>> check_manifest_entry(Path("raw/fetch-manifest.json"),
    ...                      {"file": "2017-2018/DEMO_J.xpt", "sha256": "/tmp/x"})
    Traceback (most recent call last):
    ...
    nhanes_mg.errors.InvalidFileError: raw/fetch-manifest.json: field 'sha256' of 2017-2018/DEMO...
    """
    if not isinstance(entry, dict):
        raise InvalidFileError(f"{manifest}: an entry of 'files' is not a table; {_REFETCH}")
    rel = entry.get("file")
    parts = PurePosixPath(rel).parts if isinstance(rel, str) else ()
    if (
        not parts
        or PurePosixPath(str(rel)).is_absolute()
        or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts)
    ):
        raise InvalidFileError(
            f"{manifest}: field 'file' is {_shown(rel)}, not a path inside the data dir; "
            + _REFETCH
        )
    digest = entry.get("sha256")
    if not isinstance(digest, str) or not SHA256.fullmatch(digest):
        raise InvalidFileError(
            f"{manifest}: field 'sha256' of {rel}: {_shown(digest)} is not a sha256 (64 "
            f"lowercase hex digits); {_REFETCH}"
        )


_REFETCH = "the manifest was edited or damaged: delete it and run `nhanes-mg fetch` again"


def _cache_stamp(digest: str, path: Path, frame: pl.DataFrame) -> dict[str, str]:
    """What a cache entry says it holds: the source's sha256, its table and shape."""
    return {
        CACHE_KEY: json.dumps(
            {"sha256": digest, "table": path.stem.upper(), "rows": frame.height},
            sort_keys=True,
        )
    }


def _read_cache(parquet: Path, digest: str, path: Path) -> pl.DataFrame | None:
    """The cached table when the entry is readable and stamped with this source; else None.

    An entry copied over another, written by an older version (no stamp) or damaged is never
    used: the caller parses the XPT again and replaces it.
    """
    try:
        stamp = json.loads(pl.read_parquet_metadata(parquet)[CACHE_KEY])
        if stamp["sha256"] != digest or stamp["table"] != path.stem.upper():
            return None
        frame = pl.read_parquet(parquet)
    except Exception:  # missing stamp, bad JSON, damaged parquet: all mean "re-make it"
        return None
    return frame if frame.height == stamp.get("rows") else None


def _check_rows(frame: pl.DataFrame, path: Path, expected: int | None, whose: str) -> None:
    if expected is not None and frame.height != expected:
        raise InvalidFileError(
            f"{path}: has {frame.height:,} rows where {whose} is {expected:,}; the file is "
            "truncated or another table: delete it and run `nhanes-mg fetch` again"
        )


def read_xpt(
    path: str | Path,
    cache_dir: str | Path | None = None,
    digest: str | None = None,
    *,
    expected_rows: int | None = None,
    rows_source: str = "CDC's published count",
) -> pl.DataFrame:
    """Read an XPT table into polars (numeric types kept, ``SEQN`` as Int64).

    With ``cache_dir`` the parsed table is cached as parquet keyed by the file's sha256
    (``digest`` may be passed when it is already known, e.g. from the fetch manifest). Each entry
    carries the sha256 and table name of its source and its row count in its parquet metadata;
    an entry that does not match is re-made from the XPT, never used.

    Parameters
    ----------
    expected_rows
        The table's known row count (see :func:`nhanes_mg.data.catalog.expected_rows`), checked
        whether the table comes from the XPT or from the cache; None checks nothing.
    rows_source
        Where ``expected_rows`` comes from, for the message.

    Raises
    ------
    InvalidFileError
        The file is HTML, truncated, empty, otherwise not XPT, or has another row count than
        ``expected_rows`` (the message names it).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    if cache_dir is None:
        frame = _parse_xpt(path)[0]
        _check_rows(frame, path, expected_rows, rows_source)
        return frame
    cache_dir = own_folder(Path(cache_dir))  # never read or written through a link
    digest = digest or sha256_file(path)
    parquet, labels_json = _cache_paths(cache_dir, digest)
    if parquet.exists() and not parquet.is_symlink():  # a link is never a cache entry of ours
        cached = _read_cache(parquet, digest, path)
        if cached is not None:
            _check_rows(cached, path, expected_rows, rows_source)
            return cached
    frame, labels = _parse_xpt(path)
    _check_rows(frame, path, expected_rows, rows_source)  # a wrong table is never cached
    stamp = _cache_stamp(digest, path, frame)
    try:
        atomic_write(parquet, lambda p: frame.write_parquet(p, metadata=stamp))
        atomic_write(labels_json, lambda p: p.write_text(json.dumps(labels)))
    except OSError:
        pass  # a read-only data dir: the cache only saves time, the table is right without it
    return frame


def read_xpt_labels(path: str | Path) -> dict[str, str]:
    """Variable labels of an XPT file (empty for files rebuilt without labels)."""
    path = Path(path)
    validate_xpt(path)
    import pyreadstat  # lazy: as in _parse_xpt

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
    """An XPT file of a data dir by relative path, through the parquet cache.

    A table the catalog knows must have CDC's published row count
    (:func:`nhanes_mg.data.catalog.expected_rows`); one fetched from a synthetic mirror, the count
    its mirror declared. A user's own tables are not checked.

    Raises
    ------
    MissingTableError
        The file is not in the data dir.
    InvalidFileError
        The file is damaged, or has another row count than expected.
    """
    data_dir = Path(data_dir)
    path = data_dir / relpath
    _refuse_links(data_dir, relpath)
    if not path.exists():
        raise MissingTableError(
            f"{what or relpath} is not in {data_dir} (expected {path}); "
            "run `nhanes-mg fetch` (with --mirror DIR offline) first"
        )
    entry = _recorded_entry(data_dir, relpath, path)
    digest = entry.get("sha256") if entry else None
    expected, whose = catalog.expected_rows(relpath), "CDC's published count"
    if entry and entry.get("synthetic"):
        rows = entry.get("rows")  # a demo mirror's tables are smaller than CDC's
        expected, whose = (rows if isinstance(rows, int) else None), "its synthetic mirror's count"
    return read_xpt(
        path,
        cache_dir=data_dir / CACHE_DIR,
        digest=digest if isinstance(digest, str) else None,
        expected_rows=expected,
        rows_source=whose,
    )


def uncached_tables(data_dir: str | Path) -> list[str]:
    """The fetched XPT files of a data dir (relative paths, largest first) that have no parquet
    cache entry yet: what a first build would parse one by one (a job may parse them in
    parallel first, with :func:`load_file`)."""
    data_dir = Path(data_dir)
    entries = _manifest_entries(data_dir)
    try:
        files = [str(e["file"]) for e in entries or [] if str(e["file"]).endswith(".xpt")]
    except (KeyError, TypeError):
        return []  # a damaged manifest: the build says so, file by file
    out = []
    for relpath in files:
        path = data_dir / relpath
        if path.is_symlink() or not path.is_file():
            continue  # refused or reported by the build itself
        entry = _recorded_entry(data_dir, relpath, path, entries)
        digest = entry.get("sha256") if entry else None
        if isinstance(digest, str) and _cache_paths(data_dir / CACHE_DIR, digest)[0].exists():
            continue
        out.append(relpath)
    return sorted(out, key=lambda r: -(data_dir / r).stat().st_size)


def _refuse_links(data_dir: Path, relpath: str) -> None:
    """A data dir holds its files: a symbolic link below it (to a file elsewhere, say) is
    refused, naming it, never followed."""
    current = data_dir
    for part in Path(relpath).parts:
        current = current / part
        if current.is_symlink():
            raise InvalidFileError(
                f"{current}: is a link, not a file of the data dir; delete it and run "
                "`nhanes-mg fetch` again"
            )


def load_mortality(data_dir: str | Path, cycle: str | Cycle) -> tuple[pl.DataFrame, int] | None:
    """The newest linked-mortality file present for a cycle ("III" for NHANES III).

    Returns the parsed frame and its release year, or None when no file is present.
    """
    folder = Path(data_dir) / catalog.MORTALITY_DIR
    for release in catalog.MORTALITY_RELEASES:
        path = folder / catalog.mortality_file_name(cycle, release)
        _refuse_links(Path(data_dir), str(path.relative_to(data_dir)))
        if path.exists():
            frame = read_mortality(path)
            _check_mortality_records(frame, path, cycle, Path(data_dir))
            return frame, release
    return None


def check_one_per_person(frame: pl.DataFrame, source: str | Path, key: str = "SEQN") -> None:
    """Refuse a person-level table in which a participant appears twice.

    Keeping the first row (or joining all of them) would silently drop or double a person's
    data, so a repeated key is a damaged file, named.

    >>> check_one_per_person(pl.DataFrame({"SEQN": [1, 2, 2]}), "DEMO_D.xpt")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    nhanes_mg.errors.InvalidFileError: DEMO_D.xpt: SEQN 2 appears more than once; ...
    """
    duplicated = frame.filter(pl.col(key).is_duplicated())[key]
    if len(duplicated):
        raise InvalidFileError(
            f"{source}: {key} {duplicated[0]} appears more than once; one record per participant"
        )


def _check_mortality_records(
    frame: pl.DataFrame, path: Path, cycle: str | Cycle, data_dir: Path
) -> None:
    """One record per participant: no SEQN twice, and (for the continuous cycles, whose public
    file lists every DEMO participant) as many records as CDC's DEMO count, so that a file cut
    on a line boundary is refused rather than read as part of the cohort."""
    check_one_per_person(frame, path)
    if str(cycle) == "III":
        return
    year = catalog.get_cycle(cycle)
    demo = catalog.xpt_relpath(catalog.table_name("DEMO", year), year)
    expected = catalog.expected_rows(demo)
    entry = _recorded_entry(data_dir, demo, data_dir / demo) if (data_dir / demo).exists() else None
    if entry and entry.get("synthetic"):  # a demo mirror's cohorts are its own size
        rows = entry.get("rows")
        expected = rows if isinstance(rows, int) else None
    if expected is not None and frame.height != expected:
        raise InvalidFileError(
            f"{path}: {frame.height:,} records, but {year.years} has {expected:,} participants "
            "(CDC's DEMO count): the file is cut short or damaged; fetch it again"
        )


def _manifest_entries(data_dir: Path) -> list[dict[str, object]] | None:
    """The fetch manifest's entries as recorded (None: no manifest, or not one)."""
    manifest = data_dir / MANIFEST_NAME
    if not manifest.exists():
        return None
    try:
        entries = json.loads(manifest.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        return None
    return entries if isinstance(entries, list) else None


def _recorded_entry(
    data_dir: Path, relpath: str, path: Path, entries: list[dict[str, object]] | None = None
) -> dict[str, object] | None:
    """The fetch manifest's entry of a file, if the file is untouched since it was fetched
    (``entries``: the manifest's, when already read)."""
    entries = _manifest_entries(data_dir) if entries is None else entries
    try:
        entry = next(e for e in entries or [] if e.get("file") == relpath)
    except (StopIteration, AttributeError):
        return None
    # its sha256 names cache files: refused, not used
    check_manifest_entry(data_dir / MANIFEST_NAME, entry)
    stat = path.stat()
    if entry.get("size") != stat.st_size or entry.get("mtime_ns") != stat.st_mtime_ns:
        return None  # changed since it was fetched: hash it afresh, trust nothing recorded
    return entry if isinstance(entry, dict) else None
