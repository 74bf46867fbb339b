"""Fetch NHANES files into a data dir: from CDC, from a mirror URL, or from an offline mirror.

Layout of a data dir (and of a mirror)::

    {data_dir}/2005-2006/DEMO_D.xpt
    {data_dir}/1999-2000/DSII.xpt                  # supplement ingredient database
    {data_dir}/linked_mortality/NHANES_2005_2006_MORT_2019_PUBLIC.dat
    {data_dir}/fetch-manifest.json                 # file, source, size, sha256, time; and
                                                   # the files a source did not offer

A mirror may be a folder laid out like that, the same wrapped in ``nhanes-mirror/``, a folder
holding a ``*.tar.xz`` of it (as ``../shared/nhanes``), or a base URL serving the layout.

Every file is written to a temp file in the target folder, validated (XPT header, not HTML, whole
records; mortality width; the mirror's own MANIFEST checksum when it has one) and only then
renamed into place: an interrupted or failed fetch never leaves a partial file under its name,
and its temp files are removed on every way out (errors, Ctrl-C, SystemExit).

Files a source did not offer (linked-mortality files a mirror lacks, say) are recorded in the
manifest: without network, a fetch that lacks nothing else succeeds and lists them as missing.

Examples
--------
>>> from nhanes_mg.data import fetch
>>> from nhanes_mg.data import catalog
>>> plan = fetch.plan_files(catalog.parse_cycles("2005-2006"), components=["DEMO"])
>>> [w.relpath for w in plan]
['2005-2006/DEMO_D.xpt', 'linked_mortality/NHANES_2005_2006_MORT_2019_PUBLIC.dat']
"""

from __future__ import annotations

import csv
import json
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from nhanes_mg.data import catalog
from nhanes_mg.data.catalog import Cycle
from nhanes_mg.data.read import (
    MANIFEST_NAME,
    check_manifest_entry,
    check_xpt_bytes,
    read_mortality,
    sha256_file,
)
from nhanes_mg.errors import FetchError, InvalidFileError, NetworkUnavailableError
from nhanes_mg.files import (
    atomic_write,
    check_data_dir,
    own_folders,
    unwritable_error,
    usual_mode,
)

if TYPE_CHECKING:  # httpx itself only when a file is downloaded
    import httpx

USER_AGENT = "nhanes-mg (https://pypi.org/project/nhanes-mg)"
RETRIES = 4
BACKOFF_SECONDS = 0.5  # doubled after each failed try: 0.5, 1, 2 s
CHUNK = 1 << 16

ProgressCallback = Callable[[str, str], None]  # (relpath, status) after each file
Entry = dict[str, object]  # one record of the fetch manifest
# the `kind` nhanes_mg.derive.demo writes in a synthetic mirror's MANIFEST
SYNTHETIC_KIND = "synthetic"


@dataclass(frozen=True)
class Wanted:
    """One file a fetch should produce in the data dir."""

    relpath: str
    kind: str  # "xpt" or "mortality"
    label: str  # what to call it in messages: "DEMO_D (2005-2006)"
    urls: tuple[str, ...]
    cycle: str  # "2005-2006", "III", or "1999-2000" for the ingredient database


@dataclass
class FetchReport:
    """What a fetch did, file by file."""

    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # not offered by the source (label: why)
    source: str = ""

    @property
    def n_files(self) -> int:
        return len(self.fetched) + len(self.skipped)


def plan_files(
    cycles: Sequence[Cycle],
    components: Iterable[str],
    *,
    mortality: bool = True,
    nhanes3_mortality: bool = False,
) -> list[Wanted]:
    """The files a fetch of these cycles and components wants, with their CDC URLs.

    The supplement ingredient database (DSII, DSBI, DSPI) comes along whenever a 1999-2006 cycle
    asks for DSQ2, since supplement amounts of those years are computed from it. Mortality files
    are planned under their 2019 release name; a mirror holding an older release stands in.
    """
    comps = list(components)
    for comp in comps:
        catalog.has_component(comp, catalog.CYCLES[0])  # raises CatalogError on unknown names
    wanted: list[Wanted] = []
    for cycle in cycles:
        for table in catalog.tables_for(cycle, comps):
            wanted.append(
                Wanted(
                    relpath=catalog.xpt_relpath(table, cycle),
                    kind="xpt",
                    label=f"{table} ({cycle.years})",
                    urls=tuple(catalog.xpt_urls(table, cycle)),
                    cycle=cycle.years,
                )
            )
    if "DSQ2" in comps and any(c.letter in "ABCD" for c in cycles):
        base = catalog.get_cycle(catalog.INGREDIENT_DIR)
        for table in catalog.INGREDIENT_TABLES:
            wanted.append(
                Wanted(
                    relpath=f"{catalog.INGREDIENT_DIR}/{table}.xpt",
                    kind="xpt",
                    label=f"{table} (supplement ingredient database)",
                    urls=tuple(catalog.xpt_urls(table, base)),
                    cycle=catalog.INGREDIENT_DIR,
                )
            )
    if mortality:
        mort_cycles: list[str | Cycle] = [c for c in cycles if c is not catalog.PREPANDEMIC]
        if nhanes3_mortality:
            mort_cycles.append("III")
        for cyc in mort_cycles:
            name = catalog.mortality_file_name(cyc)
            years = cyc if isinstance(cyc, str) else cyc.years
            wanted.append(
                Wanted(
                    relpath=f"{catalog.MORTALITY_DIR}/{name}",
                    kind="mortality",
                    label=f"linked mortality ({years})",
                    urls=(catalog.mortality_url(name),),
                    cycle=years,
                )
            )
    return wanted


# ---------------------------------------------------------------------------------- manifest


def _load_manifest(data_dir: Path) -> tuple[dict[str, Entry], dict[str, Entry]]:
    """The fetch manifest's files and absent files, each as ``{relpath: entry}``."""
    path = data_dir / MANIFEST_NAME
    if not path.is_file():
        return {}, {}
    try:
        payload = json.loads(path.read_text())
        for entry in payload["files"]:
            check_manifest_entry(path, entry)  # a plain path, a real sha256 (read.py)
        files = {e["file"]: e for e in payload["files"]}
        absent = {e["file"]: e for e in payload.get("absent", [])}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FetchError(f"{path}: is not a valid fetch manifest ({exc}); delete it") from exc
    except OSError as exc:
        raise FetchError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return files, absent


def read_manifest(data_dir: Path) -> dict[str, Entry]:
    """The data dir's fetch manifest as ``{relpath: entry}`` (empty if none)."""
    return _load_manifest(data_dir)[0]


def read_absent(data_dir: Path) -> dict[str, Entry]:
    """Files a source said it does not have, as ``{relpath: {file, label, source, checked_at}}``.

    Recorded so that a later fetch without network can tell "never offered" from "not fetched".
    """
    return _load_manifest(data_dir)[1]


def _json_lines(payload: Mapping[str, object]) -> Iterator[str]:
    """``payload`` as JSON, each item of its lists on a line of its own.

    >>> print("".join(_json_lines({"about": "x", "files": [{"file": "a"}, {"file": "b"}]})), end="")
    {"about": "x",
    "files": [
    {"file": "a"},
    {"file": "b"}]}
    """
    yield "{"
    for n, (key, value) in enumerate(payload.items()):
        yield ",\n" if n else ""
        if isinstance(value, list):
            yield f"{json.dumps(key)}: ["
            for i, item in enumerate(value):
                yield ("," if i else "") + "\n" + json.dumps(item)
            yield "]"
        else:
            yield f"{json.dumps(key)}: {json.dumps(value)}"
    yield "}\n"


def _write_manifest(data_dir: Path, entries: dict[str, Entry], absent: dict[str, Entry]) -> None:
    payload = {
        "about": "files fetched by nhanes-mg: where from, size, sha256, when; "
        "absent: files a source did not offer, and when it said so",
        "files": [entries[k] for k in sorted(entries)],
        "absent": [absent[k] for k in sorted(absent)],
    }

    def write(tmp: Path) -> None:
        with open(tmp, "w") as fh:
            # one entry a line, each by json's C encoder (indent= would use its Python one,
            # and the manifest is written again after every file a fetch installs)
            fh.writelines(_json_lines(payload))

    try:
        atomic_write(data_dir / MANIFEST_NAME, write)
    except OSError as exc:
        raise unwritable_error(data_dir, exc) from exc


def _entry(relpath: str, source: str, path: Path, digest: str) -> Entry:
    return {
        "file": relpath,
        "source": source,
        "size": path.stat().st_size,
        "mtime_ns": path.stat().st_mtime_ns,
        "sha256": digest,
        "fetched_at": _now(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------- writing


def _write_blocks(blocks: Iterable[bytes], tmp: Path) -> None:
    """Write ``blocks`` into ``tmp``: a failing write is the data dir's (:class:`DataDirError`),
    while a failing read (of the archive, the connection) propagates as the source's error."""
    try:
        out = open(tmp, "wb")  # noqa: SIM115 - closed below; only the open is guarded here
    except OSError as exc:
        raise unwritable_error(tmp.parent, exc) from exc
    with out:
        for block in blocks:
            try:
                out.write(block)
            except OSError as exc:
                raise unwritable_error(tmp.parent, exc) from exc
        try:
            out.flush()
        except OSError as exc:
            raise unwritable_error(tmp.parent, exc) from exc


def _read_blocks(fh: IO[bytes]) -> Iterator[bytes]:
    while block := fh.read(CHUNK):
        yield block


# ---------------------------------------------------------------------------------- validation


def validate_file(path: Path, kind: str, label: str) -> None:
    """Raise :class:`InvalidFileError` (naming ``label``) unless the file is usable."""
    if kind == "xpt":
        with open(path, "rb") as fh:
            head = fh.read(512)
        check_xpt_bytes(head, path.stat().st_size, label)
    else:
        try:
            read_mortality(path)
        except InvalidFileError as exc:
            raise InvalidFileError(f"{label}: {exc}") from exc


def _mirror_manifest(*folders: Path) -> dict[str, dict[str, str]] | None:
    """``{relpath: row}`` of the first mirror MANIFEST.tsv found (file, rows, sha256_16, kind …),
    or None when there is none."""
    for candidate in (folder / "MANIFEST.tsv" for folder in folders):
        if candidate.is_file():
            with open(candidate, newline="") as fh:
                rows = csv.DictReader(fh, delimiter="\t")
                return {r["file"]: r for r in rows if r.get("file")}
    return None


class _Installer:
    """Stages temp files, validates them, checks them against the mirror's MANIFEST, renames
    them into place and keeps the fetch manifest (files, and files a source lacks) up to date."""

    def __init__(
        self,
        data_dir: Path,
        mirror_rows: dict[str, dict[str, str]] | None,
        report: FetchReport,
        manifest: dict[str, Entry],
        absent: dict[str, Entry],
        progress: ProgressCallback | None,
    ):
        self.data_dir = data_dir
        self.mirror_rows = mirror_rows or {}
        self.report = report
        self.manifest = manifest
        self.absent = absent
        self.progress = progress
        self.absent_changed = False

    @contextmanager
    def staged(self, relpath: str) -> Iterator[Path]:
        """A temp file beside ``relpath``'s place, removed on every way out of the block:
        errors, KeyboardInterrupt and SystemExit included (installed files are renamed away)."""
        final = self.data_dir / relpath
        own_folders(self.data_dir, relpath)  # a cycle folder that is a link: refused
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
            os.close(fd)
        except OSError as exc:
            raise unwritable_error(final.parent, exc) from exc
        tmp = Path(name)
        try:
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def install(
        self, tmp: Path, want: Wanted, rel: str, source: str, replaces: str | None = None
    ) -> None:
        """Validate ``tmp`` (the source's ``rel``) and rename it into ``want``'s place.

        ``replaces`` is an older mortality release installed earlier in the same fetch: it is
        removed only once its successor is in place.
        """
        final = _final_relpath(want, rel)
        validate_file(tmp, want.kind, f"{want.label} from {source}")
        digest = sha256_file(tmp)
        row = self.mirror_rows.get(rel, {})
        expected = row.get("sha256_16")
        if expected and not digest.startswith(expected):
            raise InvalidFileError(
                f"{want.label} from {source}: sha256 {digest[:16]} does not match the "
                f"mirror's MANIFEST ({expected}); the mirror copy is damaged"
            )
        target = self.data_dir / final.relpath
        try:
            usual_mode(tmp)  # as the user's umask says, not mkstemp's 0600
            os.replace(tmp, target)
            if replaces is not None:
                (self.data_dir / replaces).unlink(missing_ok=True)
        except OSError as exc:
            raise unwritable_error(target.parent, exc) from exc
        if replaces is not None:
            self.manifest.pop(replaces, None)
            self.report.fetched.remove(replaces)
        entry = _entry(final.relpath, source, target, digest)
        if row.get("kind") == SYNTHETIC_KIND:
            # A demo mirror's tables are smaller than CDC's: reading checks the count it declares.
            entry["synthetic"] = True
            if row.get("rows", "").isdigit():
                entry["rows"] = int(row["rows"])
        self.manifest[final.relpath] = entry
        self.absent.pop(want.relpath, None)
        _write_manifest(self.data_dir, self.manifest, self.absent)
        self.report.fetched.append(final.relpath)
        if self.progress:
            self.progress(final.relpath, "fetched")

    def lacks(self, want: Wanted, why: str, source: str) -> None:
        """``source`` does not offer ``want``: report it and record it in the manifest."""
        self.report.missing.append(f"{want.label}: {why}")
        self.absent[want.relpath] = {
            "file": want.relpath,
            "label": want.label,
            "source": source,
            "checked_at": _now(),
        }
        self.absent_changed = True

    def known_absent(self, want: Wanted) -> None:
        """No network, but a source said before that it does not have ``want``: report that."""
        record = self.absent[want.relpath]
        when = str(record.get("checked_at", ""))[:10] or "an earlier fetch"
        self.report.missing.append(
            f"{want.label}: not offered by {record.get('source')} on {when} "
            "(no network now: not asked again)"
        )

    def finish(self) -> None:
        if self.absent_changed:
            _write_manifest(self.data_dir, self.manifest, self.absent)


# ---------------------------------------------------------------------------------- sources


def _mortality_alternatives(want: Wanted) -> list[str]:
    """Mirror relpaths that may stand in for a planned mortality file, newest release first."""
    cycle = want.cycle
    return [
        f"{catalog.MORTALITY_DIR}/{catalog.mortality_file_name(cycle, release)}"
        for release in catalog.MORTALITY_RELEASES
    ]


def _options(want: Wanted) -> list[str]:
    return _mortality_alternatives(want) if want.kind == "mortality" else [want.relpath]


def _final_relpath(want: Wanted, mirror_relpath: str) -> Wanted:
    """A mortality file keeps its real release name in the data dir."""
    if want.kind != "mortality" or mirror_relpath == want.relpath:
        return want
    return Wanted(mirror_relpath, want.kind, want.label, want.urls, want.cycle)


def _mirror_root(folder: Path) -> Path | None:
    for candidate in (folder, folder / "nhanes-mirror"):
        if candidate.is_dir() and any((candidate / c.years).is_dir() for c in catalog.CYCLES):
            return candidate
    return None


def _fetch_from_folder(root: Path, todo: list[Wanted], installer: _Installer) -> None:
    for want in todo:
        found = next((rel for rel in _options(want) if (root / rel).is_file()), None)
        if found is None:
            installer.lacks(want, "not in the mirror", str(root))
            continue
        source = root / found
        with installer.staged(_final_relpath(want, found).relpath) as tmp:
            try:
                with open(source, "rb") as fh:
                    _write_blocks(_read_blocks(fh), tmp)
            except OSError as exc:  # writes fail as DataDirError: this is the mirror's side
                raise FetchError(
                    f"{want.label}: cannot read {source} ({exc.strerror or exc})"
                ) from exc
            installer.install(tmp, want, found, str(source))


def _fetch_from_archive(archive: Path, todo: list[Wanted], installer: _Installer) -> None:
    """One streaming pass through a ``.tar.xz`` mirror, extracting only what is wanted."""
    listed = _mirror_manifest(archive.parent)
    if listed is not None:
        # The mirror's MANIFEST says what the archive holds: skip a full decompression pass
        # when nothing wanted is in it (e.g. mortality files the mirror never had).
        lacking = [w for w in todo if not any(rel in listed for rel in _options(w))]
        for lacked in lacking:
            installer.lacks(lacked, "not in the mirror", str(archive))
        todo = [w for w in todo if w not in lacking]
        if not todo:
            return
    by_member = {rel: want for want in todo for rel in _options(want)}
    got: dict[Wanted, str] = {}
    try:
        with _members(archive) as tar:
            for member in tar:
                if not member.isfile():
                    continue
                rel = member.name.split("/", 1)[1] if "/" in member.name else member.name
                want = by_member.get(rel)
                if want is None:
                    continue
                previous = got.get(want)
                if previous is not None and _release(previous) >= _release(rel):
                    continue  # a newer release of this mortality file is already in
                source = tar.extractfile(member)
                assert source is not None  # isfile() members always have content
                with installer.staged(_final_relpath(want, rel).relpath) as tmp, source:
                    _write_blocks(_read_blocks(source), tmp)
                    installer.install(tmp, want, rel, f"{archive}:{member.name}", replaces=previous)
                got[want] = rel
    except (tarfile.TarError, EOFError, lzma.LZMAError, OSError) as exc:
        # Writes into the data dir fail as DataDirError: whatever lands here is the archive's.
        raise FetchError(
            f"{archive}: cannot read the mirror archive ({exc}); it is damaged or truncated: "
            "copy it again"
        ) from exc
    for want in todo:
        if want not in got:
            installer.lacks(want, "not in the mirror", str(archive))


@contextmanager
def _members(archive: Path) -> Iterator[tarfile.TarFile]:
    """The members of a ``.tar.xz``, in order, decompressed by the ``xz`` program in a process
    of its own where there is one, else by Python's lzma in this one.

    Why a process: lzma decompresses in the calling thread, one block after another, and
    was most of a fetch of the whole mirror (``python -m cProfile -m nhanes_mg fetch``).
    ``xz`` decompresses the archive's blocks on every core while this process writes and
    hashes the files.
    A damaged archive fails the same way either way: ``TarError``, or ``LZMAError`` naming
    what ``xz`` said.
    """
    program = shutil.which("xz")
    if program is None:
        with lzma.open(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            yield tar
            while stream.read(1 << 20):  # to the stream's end: its footer is checked there
                pass
        return
    process = subprocess.Popen(
        [program, "--decompress", "--stdout", "--threads=0", "--", str(archive)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|", bufsize=1 << 20) as tar:
            yield tar
        while process.stdout.read(1 << 20):  # to the stream's end, as above
            pass
        said = process.stderr.read().decode(errors="replace").strip().splitlines()
        if process.wait() != 0:
            raise lzma.LZMAError(said[-1] if said else f"xz exited with {process.returncode}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def _release(relpath: str) -> int:
    match = re.search(r"_MORT_(\d{4})_", relpath)
    return int(match.group(1)) if match else 0


def _download(client: httpx.Client, url: str, tmp: Path, label: str) -> bool:
    """Stream ``url`` into ``tmp``. False on 404; raises on anything else that is wrong."""
    import httpx  # lazy: a run on a complete data dir never loads it

    delay = BACKOFF_SECONDS
    for attempt in range(1, RETRIES + 1):
        try:
            with client.stream("GET", url) as response:
                if response.status_code == 404:
                    return False
                response.raise_for_status()
                content_type = response.headers.get("content-type", "")
                if "text/html" in content_type:
                    raise InvalidFileError(
                        f"{label}: {url} answered with an HTML page, not the file "
                        "(CDC serves its error pages with status 200)"
                    )
                _write_blocks(response.iter_bytes(CHUNK), tmp)
            return True
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if attempt == RETRIES:
                host = httpx.URL(url).host
                raise NetworkUnavailableError(
                    f"cannot reach {host} ({exc.__class__.__name__}): no network? "
                    "Use --mirror DIR_OR_URL with an offline NHANES mirror, "
                    "or `nhanes-mg demo` to try the pipeline on synthetic data"
                ) from exc
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if status is not None and status < 500 and status != 429:
                raise FetchError(f"{label}: {url} answered HTTP {status}") from exc
            if attempt == RETRIES:
                raise FetchError(f"{label}: {url} failed after {RETRIES} tries ({exc})") from exc
        time.sleep(delay)
        delay *= 2
    return False  # pragma: no cover - the loop always returns or raises


def _fetch_over_http(
    base_url: str | None,
    todo: list[Wanted],
    installer: _Installer,
    client: httpx.Client | None = None,
) -> None:
    """Download ``todo`` from CDC (``base_url`` None) or a mirror URL.

    Files a source said before it does not have are asked for last. Should the network be gone
    by then, everything else is in place: they are reported as known absent, not an error.
    """
    import httpx  # lazy: as in _download

    known = set(installer.absent)
    ordered = [w for w in todo if w.relpath not in known] + [w for w in todo if w.relpath in known]
    offline = False
    own_client = client is None
    client = client or httpx.Client(
        follow_redirects=True,
        timeout=httpx.Timeout(60.0, connect=10.0),
        headers={"User-Agent": USER_AGENT},
    )
    try:
        for want in ordered:
            if offline:
                installer.known_absent(want)
                continue
            if base_url is None:
                candidates = [(url, want.relpath) for url in want.urls]
            else:
                base = base_url.rstrip("/")
                candidates = [(f"{base}/{rel}", rel) for rel in _options(want)]
            try:
                for url, rel in candidates:
                    with installer.staged(_final_relpath(want, rel).relpath) as tmp:
                        if _download(client, url, tmp, want.label):
                            installer.install(tmp, want, rel, url)
                            break
                else:
                    tried = ", ".join(url for url, _ in candidates)
                    source = base_url or str(httpx.URL(candidates[0][0]).host)
                    installer.lacks(want, f"not found at {tried}", source)
            except NetworkUnavailableError:
                if want.relpath not in known:
                    raise
                offline = True
                installer.known_absent(want)
    finally:
        if own_client:
            client.close()


# ---------------------------------------------------------------------------------- entry point


def fetch(
    cycles: Sequence[Cycle] | str | None,
    components: Iterable[str],
    *,
    data_dir: str | Path = "data/raw",
    mirror: str | Path | None = None,
    mortality: bool = True,
    nhanes3_mortality: bool = True,
    progress: ProgressCallback | None = None,
    client: httpx.Client | None = None,
    on_todo: Callable[[int], object] | None = None,
) -> FetchReport:
    """Fetch NHANES tables (and linked-mortality files) into ``data_dir``.

    Files already present and valid (same size and sha256 as recorded in the data dir's
    ``fetch-manifest.json``) are skipped. Tables the source does not have are listed in
    ``report.missing``; they are not errors (the build step records the gaps). They are also
    recorded in the manifest: without network, a fetch that lacks only such files succeeds.

    Parameters
    ----------
    cycles
        Cycles (see :func:`nhanes_mg.data.catalog.parse_cycles`); None: 2001-2002 … 2017-2018.
    components
        Table components ("DEMO", "DR1TOT", …); every one the package uses is
        :func:`nhanes_mg.derive.fetched_components` (the data stage fetches what it is asked).
    mirror
        An offline mirror (folder, folder with a ``.tar.xz``) or a base URL; default CDC.
    on_todo
        Called with the number of files to fetch, before any is fetched (not when all are
        present, or the rest are files a source said before it does not have): a job starts
        its workers then.

    Raises
    ------
    NetworkUnavailableError
        CDC (or the mirror URL) cannot be reached at all, and a file no source has declared
        absent is still to fetch.
    InvalidFileError
        A source handed over HTML, a truncated XPT or a damaged file (nothing is installed).
    DataDirError
        ``data_dir`` is a file, or cannot be written.
    FetchError
        The mirror is missing or unreadable, or a download failed.
    """
    if cycles is None or isinstance(cycles, str):
        cycles = catalog.parse_cycles(cycles)
    data_dir = Path(data_dir)
    check_data_dir(data_dir, writable=False)
    plan = plan_files(cycles, components, mortality=mortality, nhanes3_mortality=nhanes3_mortality)
    for want in plan:  # before anything is read or written there: no folder is a link
        own_folders(data_dir, want.relpath)
    manifest, absent = _load_manifest(data_dir)
    report = FetchReport()
    todo = [w for w in plan if not _present(data_dir, w, manifest, report, progress)]
    if not todo:
        report.source = "data dir (all present)"
        return report
    check_data_dir(data_dir, writable=True)
    fresh = [w for w in todo if w.relpath not in absent]  # not a source's known gap
    if on_todo is not None and fresh:
        on_todo(len(fresh))

    mirror_text = str(mirror) if mirror is not None else None
    if mirror_text and re.match(r"^https?://", mirror_text):
        report.source = mirror_text
        installer = _Installer(data_dir, None, report, manifest, absent, progress)
        _fetch_over_http(mirror_text, todo, installer, client)
    elif mirror_text:
        folder = Path(mirror_text).expanduser()
        if not folder.exists():
            raise FetchError(f"mirror {folder} does not exist")
        root = _mirror_root(folder)
        if root is not None:
            report.source = str(root)
            rows = _mirror_manifest(root, root.parent)
            installer = _Installer(data_dir, rows, report, manifest, absent, progress)
            _fetch_from_folder(root, todo, installer)
        else:
            archives = sorted(folder.glob("*.tar.xz")) if folder.is_dir() else [folder]
            archives = [a for a in archives if a.name.endswith(".tar.xz")]
            if not archives:
                raise FetchError(
                    f"mirror {folder} holds neither cycle folders (2005-2006/ …) nor a .tar.xz "
                    "archive of them"
                )
            report.source = str(archives[0])
            rows = _mirror_manifest(archives[0].parent)
            installer = _Installer(data_dir, rows, report, manifest, absent, progress)
            _fetch_from_archive(archives[0], todo, installer)
    else:
        report.source = catalog.CDC_BASE
        installer = _Installer(data_dir, None, report, manifest, absent, progress)
        _fetch_over_http(None, todo, installer, client)
    installer.finish()
    return report


def _present(
    data_dir: Path,
    want: Wanted,
    manifest: dict[str, Entry],
    report: FetchReport,
    progress: ProgressCallback | None,
) -> bool:
    """True (and recorded as skipped) when a valid copy of the file is already in place."""
    for rel in _options(want):
        path = data_dir / rel
        if not path.is_file():
            continue
        entry = manifest.get(rel)
        if entry is None or entry.get("size") != path.stat().st_size:
            return False  # present but unrecorded or changed: fetch it again
        # Same size and modification time as when fetched: trust the recorded hash (rehashing
        # 500 MB on every run buys nothing); a touched file is hashed again.
        untouched = entry.get("mtime_ns") == path.stat().st_mtime_ns
        if untouched or sha256_file(path) == entry.get("sha256"):
            report.skipped.append(rel)
            if progress:
                progress(rel, "present")
            return True
        return False  # present but unrecorded or changed: fetch it again
    return False


def iter_manifest(data_dir: str | Path) -> Iterator[dict[str, object]]:
    """Entries of a data dir's fetch manifest, sorted by file (for reports)."""
    manifest = read_manifest(Path(data_dir))
    for key in sorted(manifest):
        yield manifest[key]
