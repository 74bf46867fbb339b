"""Fetch NHANES files into a data dir: from CDC, from a mirror URL, or from an offline mirror.

Layout of a data dir (and of a mirror)::

    {data_dir}/2005-2006/DEMO_D.xpt
    {data_dir}/1999-2000/DSII.xpt                  # supplement ingredient database
    {data_dir}/linked_mortality/NHANES_2005_2006_MORT_2019_PUBLIC.dat
    {data_dir}/fetch-manifest.json                 # file, source, size, sha256, time

A mirror may be a folder laid out like that, the same wrapped in ``nhanes-mirror/``, a folder
holding a ``*.tar.xz`` of it (as ``../shared/nhanes``), or a base URL serving the layout.

Every file is written to a temp file in the target folder, validated (XPT header, not HTML, whole
records; mortality width; the mirror's own MANIFEST checksum when it has one) and only then
renamed into place: an interrupted or failed fetch never leaves a partial file under its name.

Examples
--------
>>> from nhanes_mg import fetch, catalog
>>> plan = fetch.plan_files(catalog.parse_cycles("2005-2006"), components=["DEMO"])
>>> [w.relpath for w in plan]
['2005-2006/DEMO_D.xpt', 'linked_mortality/NHANES_2005_2006_MORT_2019_PUBLIC.dat']
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from nhanes_mg import catalog
from nhanes_mg.catalog import Cycle
from nhanes_mg.errors import FetchError, InvalidFileError, NetworkUnavailableError
from nhanes_mg.read import MANIFEST_NAME, check_xpt_bytes, read_mortality, sha256_file

USER_AGENT = "nhanes-mg (https://pypi.org/project/nhanes-mg)"
RETRIES = 4
BACKOFF_SECONDS = 0.5  # doubled after each failed try: 0.5, 1, 2 s
CHUNK = 1 << 16

ProgressCallback = Callable[[str, str], None]  # (relpath, status) after each file


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
    components: Iterable[str] | None = None,
    *,
    mortality: bool = True,
    nhanes3_mortality: bool = False,
) -> list[Wanted]:
    """The files a fetch of these cycles and components wants, with their CDC URLs.

    The supplement ingredient database (DSII, DSBI, DSPI) comes along whenever a 1999-2006 cycle
    asks for DSQ2, since supplement amounts of those years are computed from it. Mortality files
    are planned under their 2019 release name; a mirror holding an older release stands in.
    """
    comps = list(catalog.DEFAULT_COMPONENTS if components is None else components)
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


def read_manifest(data_dir: Path) -> dict[str, dict[str, object]]:
    """The data dir's fetch manifest as ``{relpath: entry}`` (empty if none)."""
    path = data_dir / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text())["files"]
        return {e["file"]: e for e in entries}
    except (ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"{path}: is not a valid fetch manifest ({exc}); delete it") from exc


def _write_manifest(data_dir: Path, entries: dict[str, dict[str, object]]) -> None:
    path = data_dir / MANIFEST_NAME
    payload = {
        "about": "files fetched by nhanes-mg: where from, size, sha256, when",
        "files": [entries[k] for k in sorted(entries)],
    }
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".manifest.", suffix=".part")
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=1)
    os.replace(tmp, path)


def _entry(relpath: str, source: str, path: Path, digest: str) -> dict[str, object]:
    return {
        "file": relpath,
        "source": source,
        "size": path.stat().st_size,
        "mtime_ns": path.stat().st_mtime_ns,
        "sha256": digest,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


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


def _mirror_listing(folder: Path) -> set[str] | None:
    """Files a mirror's MANIFEST.tsv lists, or None when there is no manifest."""
    path = folder / "MANIFEST.tsv"
    if not path.exists():
        return None
    with open(path, newline="") as fh:
        return {row["file"] for row in csv.DictReader(fh, delimiter="\t") if row.get("file")}


def _mirror_checksums(*folders: Path) -> dict[str, str]:
    """``{relpath: sha256 prefix}`` from a mirror's MANIFEST.tsv, when it has one."""
    for candidate in (folder / "MANIFEST.tsv" for folder in folders):
        if candidate.exists():
            with open(candidate, newline="") as fh:
                rows = csv.DictReader(fh, delimiter="\t")
                return {r["file"]: r["sha256_16"] for r in rows if r.get("sha256_16")}
    return {}


class _Installer:
    """Validates a temp file, checks it against the mirror's checksum, renames it into place."""

    def __init__(
        self,
        data_dir: Path,
        checksums: dict[str, str],
        report: FetchReport,
        manifest: dict[str, dict[str, object]],
        progress: ProgressCallback | None,
    ):
        self.data_dir = data_dir
        self.checksums = checksums
        self.report = report
        self.manifest = manifest
        self.progress = progress

    def temp_for(self, relpath: str) -> Path:
        final = self.data_dir / relpath
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
        os.close(fd)
        return Path(tmp)

    def install(self, tmp: Path, want: Wanted, source: str, mirror_relpath: str) -> None:
        try:
            validate_file(tmp, want.kind, f"{want.label} from {source}")
            digest = sha256_file(tmp)
            expected = self.checksums.get(mirror_relpath)
            if expected and not digest.startswith(expected):
                raise InvalidFileError(
                    f"{want.label} from {source}: sha256 {digest[:16]} does not match the "
                    f"mirror's MANIFEST ({expected}); the mirror copy is damaged"
                )
            os.replace(tmp, self.data_dir / want.relpath)
        finally:
            tmp.unlink(missing_ok=True)
        self.manifest[want.relpath] = _entry(
            want.relpath, source, self.data_dir / want.relpath, digest
        )
        _write_manifest(self.data_dir, self.manifest)
        self.report.fetched.append(want.relpath)
        if self.progress:
            self.progress(want.relpath, "fetched")


# ---------------------------------------------------------------------------------- sources


def _mortality_alternatives(want: Wanted) -> list[str]:
    """Mirror relpaths that may stand in for a planned mortality file, newest release first."""
    cycle = want.cycle
    return [
        f"{catalog.MORTALITY_DIR}/{catalog.mortality_file_name(cycle, release)}"
        for release in catalog.MORTALITY_RELEASES
    ]


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


def _fetch_from_folder(
    root: Path, todo: list[Wanted], installer: _Installer, report: FetchReport
) -> None:
    for want in todo:
        options = _mortality_alternatives(want) if want.kind == "mortality" else [want.relpath]
        found = next((rel for rel in options if (root / rel).is_file()), None)
        if found is None:
            report.missing.append(f"{want.label}: not in the mirror")
            continue
        final = _final_relpath(want, found)
        tmp = installer.temp_for(final.relpath)
        shutil.copyfile(root / found, tmp)
        installer.install(tmp, final, str(root / found), found)


def _fetch_from_archive(
    archive: Path, todo: list[Wanted], installer: _Installer, report: FetchReport
) -> None:
    """One streaming pass through a ``.tar.xz`` mirror, extracting only what is wanted."""
    by_member: dict[str, Wanted] = {}
    listed = _mirror_listing(archive.parent)
    if listed is not None:
        # The mirror's MANIFEST says what the archive holds: skip a full decompression pass
        # when nothing wanted is in it (e.g. mortality files the mirror never had).
        absent = [
            w
            for w in todo
            if not any(
                rel in listed
                for rel in (_mortality_alternatives(w) if w.kind == "mortality" else [w.relpath])
            )
        ]
        for want in absent:
            report.missing.append(f"{want.label}: not in the mirror")
        todo = [w for w in todo if w not in absent]
        if not todo:
            return
    for want in todo:
        options = _mortality_alternatives(want) if want.kind == "mortality" else [want.relpath]
        for rel in options:
            by_member[rel] = want
    got: dict[Wanted, str] = {}
    try:
        with tarfile.open(archive, "r:xz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                rel = member.name.split("/", 1)[1] if "/" in member.name else member.name
                wanted = by_member.get(rel)
                if wanted is None:
                    continue
                want = wanted
                previous = got.get(want)
                if previous is not None and _release(previous) >= _release(rel):
                    continue  # a newer release of this mortality file is already in
                final = _final_relpath(want, rel)
                tmp = installer.temp_for(final.relpath)
                source = tar.extractfile(member)
                assert source is not None  # isfile() members always have content
                with source, open(tmp, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
                if previous is not None:
                    (installer.data_dir / previous).unlink(missing_ok=True)
                    installer.manifest.pop(previous, None)
                    report.fetched.remove(previous)
                installer.install(tmp, final, f"{archive}:{member.name}", rel)
                got[want] = rel
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, InvalidFileError):
            raise
        raise FetchError(f"{archive}: cannot read the mirror archive ({exc})") from exc
    for want in todo:
        if want not in got:
            report.missing.append(f"{want.label}: not in the mirror")


def _release(relpath: str) -> int:
    match = re.search(r"_MORT_(\d{4})_", relpath)
    return int(match.group(1)) if match else 0


def _download(client: httpx.Client, url: str, tmp: Path, label: str) -> bool:
    """Stream ``url`` into ``tmp``. False on 404; raises on anything else that is wrong."""
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
                with open(tmp, "wb") as out:
                    for block in response.iter_bytes(CHUNK):
                        out.write(block)
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
    report: FetchReport,
    client: httpx.Client | None = None,
) -> None:
    own_client = client is None
    client = client or httpx.Client(
        follow_redirects=True,
        timeout=httpx.Timeout(60.0, connect=10.0),
        headers={"User-Agent": USER_AGENT},
    )
    try:
        for want in todo:
            if base_url is None:
                candidates = [(url, want.relpath) for url in want.urls]
            else:
                options = (
                    _mortality_alternatives(want) if want.kind == "mortality" else [want.relpath]
                )
                candidates = [(f"{base_url.rstrip('/')}/{rel}", rel) for rel in options]
            for url, rel in candidates:
                final = _final_relpath(want, rel)
                tmp = installer.temp_for(final.relpath)
                try:
                    ok = _download(client, url, tmp, want.label)
                    if ok:
                        installer.install(tmp, final, url, rel)
                        break
                finally:
                    tmp.unlink(missing_ok=True)
            else:
                tried = ", ".join(url for url, _ in candidates)
                report.missing.append(f"{want.label}: not found at {tried}")
    finally:
        if own_client:
            client.close()


# ---------------------------------------------------------------------------------- entry point


def fetch(
    cycles: Sequence[Cycle] | str | None = None,
    components: Iterable[str] | None = None,
    *,
    data_dir: str | Path = "data/raw",
    mirror: str | Path | None = None,
    mortality: bool = True,
    nhanes3_mortality: bool = True,
    progress: ProgressCallback | None = None,
    client: httpx.Client | None = None,
) -> FetchReport:
    """Fetch NHANES tables (and linked-mortality files) into ``data_dir``.

    Files already present and valid (same size and sha256 as recorded in the data dir's
    ``fetch-manifest.json``) are skipped. Tables the source does not have are listed in
    ``report.missing``; they are not errors (the build step records the gaps).

    Parameters
    ----------
    cycles
        Cycles (see :func:`nhanes_mg.catalog.parse_cycles`); default 2001-2002 … 2017-2018.
    components
        Table components ("DEMO", "DR1TOT", …); default every one the package uses.
    mirror
        An offline mirror (folder, folder with a ``.tar.xz``) or a base URL; default CDC.

    Raises
    ------
    NetworkUnavailableError
        CDC (or the mirror URL) cannot be reached at all.
    InvalidFileError
        A source handed over HTML, a truncated XPT or a damaged file (nothing is installed).
    """
    if cycles is None or isinstance(cycles, str):
        cycles = catalog.parse_cycles(cycles)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_files(cycles, components, mortality=mortality, nhanes3_mortality=nhanes3_mortality)
    manifest = read_manifest(data_dir)
    report = FetchReport()
    todo = [w for w in plan if not _present(data_dir, w, manifest, report, progress)]
    if not todo:
        report.source = "data dir (all present)"
        return report

    mirror_text = str(mirror) if mirror is not None else None
    if mirror_text and re.match(r"^https?://", mirror_text):
        report.source = mirror_text
        installer = _Installer(data_dir, {}, report, manifest, progress)
        _fetch_over_http(mirror_text, todo, installer, report, client)
    elif mirror_text:
        folder = Path(mirror_text).expanduser()
        if not folder.exists():
            raise FetchError(f"mirror {folder} does not exist")
        root = _mirror_root(folder)
        if root is not None:
            report.source = str(root)
            checksums = _mirror_checksums(root, root.parent)
            installer = _Installer(data_dir, checksums, report, manifest, progress)
            _fetch_from_folder(root, todo, installer, report)
        else:
            archives = sorted(folder.glob("*.tar.xz")) if folder.is_dir() else [folder]
            archives = [a for a in archives if a.name.endswith(".tar.xz")]
            if not archives:
                raise FetchError(
                    f"mirror {folder} holds neither cycle folders (2005-2006/ …) nor a .tar.xz "
                    "archive of them"
                )
            report.source = str(archives[0])
            checksums = _mirror_checksums(archives[0].parent)
            installer = _Installer(data_dir, checksums, report, manifest, progress)
            _fetch_from_archive(archives[0], todo, installer, report)
    else:
        report.source = catalog.CDC_BASE
        installer = _Installer(data_dir, {}, report, manifest, progress)
        _fetch_over_http(None, todo, installer, report, client)
    return report


def _present(
    data_dir: Path,
    want: Wanted,
    manifest: dict[str, dict[str, object]],
    report: FetchReport,
    progress: ProgressCallback | None,
) -> bool:
    """True (and recorded as skipped) when a valid copy of the file is already in place."""
    options = _mortality_alternatives(want) if want.kind == "mortality" else [want.relpath]
    for rel in options:
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
