"""fetch: mirrors (folder, .tar.xz, URL), CDC URL fallback, validation, manifest, no network."""

from __future__ import annotations

import http.server
import json
import os
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from nhanes_mg.cli import app
from nhanes_mg.data import catalog, fetch, read
from nhanes_mg.derive import fetched_components
from nhanes_mg.errors import (
    DataDirError,
    FetchError,
    InvalidFileError,
    NetworkUnavailableError,
)

from nhanes_files import MORT_2015_LINES, demo_columns, write_mortality, write_xpt

CYCLE_D = catalog.parse_cycles("2005-2006")
CliMain = Callable[..., tuple[int, str, str]]  # the ``cli_main`` fixture (tests/conftest.py)


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "BACKOFF_SECONDS", 0.01)


@pytest.fixture
def small_mirror(tmp_path: Path) -> Path:
    """A mirror folder with DEMO_D, VID_D and a 2015-release mortality file for 2005-2006."""
    root = tmp_path / "mirror"
    write_xpt(root / "2005-2006" / "DEMO_D.xpt", demo_columns(6))
    write_xpt(root / "2005-2006" / "VID_D.xpt", {"SEQN": [31127.0], "LBDVIDMS": [55.1]})
    write_mortality(
        root / "linked_mortality" / "NHANES_2005_2006_MORT_2015_PUBLIC.dat", MORT_2015_LINES
    )
    return root


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_plan_knows_the_ingredient_database() -> None:
    plan = fetch.plan_files(catalog.parse_cycles("2001-2002"), ["DSQ2"], mortality=False)
    assert [w.relpath for w in plan] == [
        "2001-2002/DSQ2_B.xpt",
        "1999-2000/DSII.xpt",
        "1999-2000/DSBI.xpt",
        "1999-2000/DSPI.xpt",
    ]


def test_folder_mirror_then_skip(small_mirror: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    report = fetch.fetch(CYCLE_D, ["DEMO", "VID", "BMX"], data_dir=data, mirror=small_mirror)
    assert sorted(report.fetched) == [
        "2005-2006/DEMO_D.xpt",
        "2005-2006/VID_D.xpt",
        "linked_mortality/NHANES_2005_2006_MORT_2015_PUBLIC.dat",  # older release stands in
    ]
    assert report.missing == [
        "BMX_D (2005-2006): not in the mirror",
        "linked mortality (III): not in the mirror",
    ]
    manifest = json.loads((data / "fetch-manifest.json").read_text())["files"]
    demo = next(e for e in manifest if e["file"] == "2005-2006/DEMO_D.xpt")
    assert demo["sha256"] == read.sha256_file(data / "2005-2006" / "DEMO_D.xpt")
    assert demo["source"] == str(small_mirror / "2005-2006" / "DEMO_D.xpt")
    assert demo["size"] == (data / "2005-2006" / "DEMO_D.xpt").stat().st_size
    assert not any(name.endswith(".part") for name in _files(data))

    again = fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=small_mirror)
    assert again.fetched == [] and len(again.skipped) == 3
    installed = data / "linked_mortality" / "NHANES_2005_2006_MORT_2015_PUBLIC.dat"
    assert read.read_mortality(installed)["SEQN"].to_list() == [31127, 31128, 31129]
    # three records are not the cohort of 2005-2006: loading it for a build is refused
    with pytest.raises(InvalidFileError, match="3 records, but 2005-2006 has 10,348"):
        read.load_mortality(data, "2005-2006")


def test_changed_file_is_fetched_again(small_mirror: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mirror=small_mirror, mortality=False)
    target = data / "2005-2006" / "DEMO_D.xpt"
    target.write_bytes(target.read_bytes()[:-80])  # damaged in place
    report = fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mirror=small_mirror, mortality=False)
    assert report.fetched == ["2005-2006/DEMO_D.xpt"]
    assert read.read_xpt(target).height == 6


def test_archive_mirror(small_mirror: Path, tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    packed.mkdir()
    with tarfile.open(packed / "nhanes-mirror-test.tar.xz", "w:xz") as tar:
        tar.add(small_mirror, arcname="nhanes-mirror")
    data = tmp_path / "data"
    report = fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=packed)
    assert len(report.fetched) == 3
    assert read.read_xpt(data / "2005-2006" / "VID_D.xpt")["LBDVIDMS"].to_list() == [55.1]


def test_mirror_checksum_mismatch_installs_nothing(small_mirror: Path, tmp_path: Path) -> None:
    (small_mirror / "MANIFEST.tsv").write_text(
        "file\trows\tcolumns\tsha256_16\tkind\tsource\n"
        "2005-2006/DEMO_D.xpt\t6\t6\t0000000000000000\toriginal\tx\n"
    )
    data = tmp_path / "data"
    with pytest.raises(InvalidFileError, match=r"DEMO_D \(2005-2006\).*does not match"):
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mirror=small_mirror, mortality=False)
    assert _files(data) == set()


def test_missing_mirror_folder(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="does not exist"):
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=tmp_path / "d", mirror=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FetchError, match="neither cycle folders"):
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=tmp_path / "d", mirror=tmp_path / "empty")


# ------------------------------------------------------------------------- over HTTP (loopback)


class _Server:
    """A loopback HTTP server: serves a folder, plus scripted answers for given paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.scripted: dict[str, list[tuple[int, str, bytes]]] = {}
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                queue = server.scripted.get(self.path)
                if queue:
                    status, ctype, body = queue.pop(0) if len(queue) > 1 else queue[0]
                else:
                    file = server.root / self.path.lstrip("/")
                    if file.is_file():
                        status, ctype, body = 200, "application/octet-stream", file.read_bytes()
                    else:
                        status, ctype, body = 404, "text/html", b"<html>Not Found</html>"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # a short poll: shutdown() waits for the loop to look (0.5 s by default)
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()


@pytest.fixture
def server(small_mirror: Path) -> Iterator[_Server]:
    srv = _Server(small_mirror)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def test_mirror_url(server: _Server, tmp_path: Path) -> None:
    data = tmp_path / "data"
    report = fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=server.url)
    assert "2005-2006/DEMO_D.xpt" in report.fetched
    assert "linked_mortality/NHANES_2005_2006_MORT_2015_PUBLIC.dat" in report.fetched
    manifest = fetch.read_manifest(data)
    assert manifest["2005-2006/DEMO_D.xpt"]["source"] == f"{server.url}/2005-2006/DEMO_D.xpt"


def test_cdc_current_scheme_then_old_fallback(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "CDC_BASE", server.url)
    demo = (server.root / "2005-2006" / "DEMO_D.xpt").read_bytes()
    server.scripted["/Nchs/Nhanes/2005-2006/DEMO_D.XPT"] = [(200, "application/x-sas", demo)]
    data = tmp_path / "data"
    report = fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mortality=False)
    assert report.fetched == ["2005-2006/DEMO_D.xpt"]
    assert server.hits == [
        "/Nchs/Data/Nhanes/Public/2005/DataFiles/DEMO_D.xpt",  # current scheme tried first
        "/Nchs/Nhanes/2005-2006/DEMO_D.XPT",
    ]
    assert fetch.read_manifest(data)["2005-2006/DEMO_D.xpt"]["source"].endswith("DEMO_D.XPT")


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "application/octet-stream"])
def test_html_with_status_200_is_refused(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctype: str
) -> None:
    monkeypatch.setattr(catalog, "CDC_BASE", server.url)
    page = b"<!DOCTYPE html><html><body>File not found</body></html>"
    server.scripted["/Nchs/Data/Nhanes/Public/2005/DataFiles/DEMO_D.xpt"] = [(200, ctype, page)]
    data = tmp_path / "data"
    with pytest.raises(InvalidFileError, match=r"DEMO_D \(2005-2006\).*HTML") as info:
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mortality=False)
    assert "DEMO_D.xpt" in str(info.value)  # names the URL
    assert not any(p.is_file() for p in (data / "2005-2006").glob("*"))  # no partial files


def test_truncated_download_is_refused(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "CDC_BASE", server.url)
    demo = (server.root / "2005-2006" / "DEMO_D.xpt").read_bytes()
    server.scripted["/Nchs/Data/Nhanes/Public/2005/DataFiles/DEMO_D.xpt"] = [
        (200, "application/octet-stream", demo[:-50])
    ]
    data = tmp_path / "data"
    with pytest.raises(InvalidFileError, match="truncated"):
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mortality=False)
    assert not (data / "2005-2006" / "DEMO_D.xpt").exists()


def test_server_errors_are_retried(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog, "CDC_BASE", server.url)
    demo = (server.root / "2005-2006" / "DEMO_D.xpt").read_bytes()
    path = "/Nchs/Data/Nhanes/Public/2005/DataFiles/DEMO_D.xpt"
    server.scripted[path] = [(503, "text/plain", b"busy"), (200, "application/x-sas", demo)]
    report = fetch.fetch(CYCLE_D, ["DEMO"], data_dir=tmp_path / "d", mortality=False)
    assert report.fetched == ["2005-2006/DEMO_D.xpt"]
    assert server.hits.count(path) == 2


def test_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "CDC_BASE", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(NetworkUnavailableError, match="--mirror"):
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=tmp_path / "d", mortality=False)


def test_cli_no_network_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_main: CliMain
) -> None:
    monkeypatch.setattr(catalog, "CDC_BASE", "http://127.0.0.1:9")  # discard port: refused
    code, stdout, stderr = cli_main("fetch", "--cycles", "2005-2006", "--data-dir", str(tmp_path))
    assert code == 1
    lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
    assert len(lines) == 1, stdout + stderr
    assert lines[0].startswith("error: cannot reach 127.0.0.1") and "--mirror" in lines[0]
    assert "Traceback" not in stderr


def test_cli_fetch_from_folder(small_mirror: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "fetch",
            "--cycles",
            "2005-2006",
            "--tables",
            "DEMO,VID",
            "--mirror",
            str(small_mirror),
            "--data-dir",
            str(tmp_path / "d"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "2005-2006" / "VID_D.xpt").exists()


def test_client_is_httpx() -> None:
    # the download layer is httpx: a mocked transport drives it like a real server would
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    with httpx.Client(transport=transport) as client:
        assert fetch._download(client, "http://x/y.xpt", Path("/dev/null"), "y") is False


# ------------------------------------------------------------------------- nothing left behind


def _parts(folder: Path) -> list[Path]:
    """Temp files of a fetch (``.{name}.*.part``, ``.fetch-manifest.json.*.part``) anywhere."""
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


def _snapshot(data: Path) -> dict[str, bytes]:
    """Every file of a data dir with its bytes (the manifest included)."""
    return {str(p.relative_to(data)): p.read_bytes() for p in data.rglob("*") if p.is_file()}


def _vid_installed(small_mirror: Path, data: Path) -> dict[str, bytes]:
    """A data dir holding VID_D from an earlier fetch; what it holds, byte for byte."""
    fetch.fetch(CYCLE_D, ["VID"], data_dir=data, mirror=small_mirror, mortality=False)
    assert (data / "2005-2006" / "VID_D.xpt").is_file()
    return _snapshot(data)


def _interrupting_writer(after: int = 1000) -> object:
    """A stand-in for fetch's block writer: writes part of the file, then Ctrl-C."""

    def write(blocks: Iterable[bytes], tmp: Path) -> None:
        data = b"".join(blocks)
        tmp.write_bytes(data[:after])
        raise KeyboardInterrupt

    return write


@pytest.mark.parametrize("source", ["folder", "archive", "url"])
def test_interrupt_while_copying_leaves_nothing_behind(
    source: str, small_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    before = _vid_installed(small_mirror, data)
    mirror: str | Path = small_mirror
    srv = None
    if source == "archive":
        mirror = tmp_path / "packed"
        mirror.mkdir()
        with tarfile.open(mirror / "nhanes-mirror-test.tar.xz", "w:xz") as tar:
            tar.add(small_mirror, arcname="nhanes-mirror")
    elif source == "url":
        srv = _Server(small_mirror)
        mirror = srv.url
    monkeypatch.setattr(fetch, "_write_blocks", _interrupting_writer())
    try:
        with pytest.raises(KeyboardInterrupt):
            fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=mirror, mortality=False)
    finally:
        if srv is not None:
            srv.httpd.shutdown()
    assert _parts(data) == []
    assert _snapshot(data) == before  # VID_D and the manifest untouched, no DEMO_D


def test_interrupt_in_progress_callback_leaves_a_consistent_data_dir(
    small_mirror: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    before = _vid_installed(small_mirror, data)
    seen: list[str] = []

    def progress(relpath: str, status: str) -> None:
        seen.append(relpath)
        if status == "fetched":
            raise KeyboardInterrupt  # Ctrl-C right after the first new file

    with pytest.raises(KeyboardInterrupt):
        fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=small_mirror, progress=progress)
    assert _parts(data) == []
    assert seen == ["2005-2006/VID_D.xpt", "2005-2006/DEMO_D.xpt"]
    manifest = fetch.read_manifest(data)
    assert sorted(manifest) == ["2005-2006/DEMO_D.xpt", "2005-2006/VID_D.xpt"]
    for rel, entry in manifest.items():  # what the manifest lists is there, as recorded
        assert read.sha256_file(data / rel) == entry["sha256"]
    assert (data / "2005-2006" / "VID_D.xpt").read_bytes() == before["2005-2006/VID_D.xpt"]


def test_interrupt_while_writing_the_manifest_keeps_the_old_one(
    small_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    before = _vid_installed(small_mirror, data)

    def lines(payload: object) -> Iterator[str]:
        yield '{"files": ['
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch, "_json_lines", lines)
    with pytest.raises(KeyboardInterrupt):
        fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=small_mirror, mortality=False)
    monkeypatch.undo()
    assert _parts(data) == []
    assert (data / "fetch-manifest.json").read_bytes() == before["fetch-manifest.json"]
    # DEMO_D went into place but is not recorded: the next fetch copies it again
    again = fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=small_mirror)
    assert "2005-2006/DEMO_D.xpt" in again.fetched


def test_html_as_xpt_in_a_mirror_installs_nothing(small_mirror: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    before = _vid_installed(small_mirror, data)
    (small_mirror / "2005-2006" / "DEMO_D.xpt").write_text(
        "<!DOCTYPE html><html><body>Page not found</body></html>"
    )
    with pytest.raises(InvalidFileError, match=r"DEMO_D \(2005-2006\).*HTML"):
        fetch.fetch(CYCLE_D, ["DEMO", "VID"], data_dir=data, mirror=small_mirror, mortality=False)
    assert _parts(data) == []
    assert _snapshot(data) == before


@pytest.mark.mirror
def test_truncated_archive_leaves_nothing_behind(mirror_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    fetch.fetch(CYCLE_D, ["VID"], data_dir=data, mirror=mirror_dir, mortality=False)
    before = _snapshot(data)
    packed = tmp_path / "packed"
    packed.mkdir()
    archive = packed / "nhanes-mirror-cut.tar.xz"
    with tarfile.open(archive, "w:xz", preset=0) as tar:
        for name in ("DEMO_D.xpt", "DR1TOT_D.xpt"):  # DEMO_D whole, DR1TOT_D cut off
            tar.add(mirror_dir / "2005-2006" / name, arcname=f"nhanes-mirror/2005-2006/{name}")
    whole = archive.read_bytes()
    archive.write_bytes(whole[: len(whole) * 3 // 4])
    with pytest.raises(FetchError, match=r"cut\.tar\.xz: cannot read the mirror archive.*copy"):
        fetch.fetch(CYCLE_D, ["DEMO", "DR1TOT"], data_dir=data, mirror=packed, mortality=False)
    assert _parts(data) == []
    assert not (data / "2005-2006" / "DR1TOT_D.xpt").exists()
    after = _snapshot(data)
    for rel in before:
        if rel != "fetch-manifest.json":
            assert after[rel] == before[rel], rel
    manifest = fetch.read_manifest(data)
    assert sorted(manifest) == ["2005-2006/DEMO_D.xpt", "2005-2006/VID_D.xpt"]
    assert manifest["2005-2006/VID_D.xpt"] == json.loads(before["fetch-manifest.json"])["files"][0]
    assert read.load_table(data, "DEMO", "2005-2006").height == 10348  # whole, before the cut


@pytest.mark.parametrize("xz_program", [True, False], ids=["xz process", "python lzma"])
def test_archive_cut_after_its_last_member_is_refused(
    small_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xz_program: bool
) -> None:
    # every member whole, the xz stream's index and footer cut: the files would pass every
    # check, but the archive is damaged, and the fetch says so (xz's exit status, or lzma's
    # end of stream) whichever decompresses it
    if not xz_program:
        monkeypatch.setattr(fetch.shutil, "which", lambda name: None)
    packed = tmp_path / "packed"
    packed.mkdir()
    archive = packed / "nhanes-mirror-cut.tar.xz"
    with tarfile.open(archive, "w:xz", preset=0) as tar:
        tar.add(
            small_mirror / "2005-2006" / "VID_D.xpt", arcname="nhanes-mirror/2005-2006/VID_D.xpt"
        )
    archive.write_bytes(archive.read_bytes()[:-12])
    with pytest.raises(FetchError, match=r"cut\.tar\.xz: cannot read the mirror archive.*copy"):
        fetch.fetch(CYCLE_D, ["VID"], data_dir=tmp_path / "data", mirror=packed, mortality=False)
    assert _parts(tmp_path / "data") == []


# ------------------------------------------------------------------------- offline when possible


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """CDC and its mortality server both refuse connections (the discard port)."""
    monkeypatch.setattr(catalog, "CDC_BASE", "http://127.0.0.1:9")
    monkeypatch.setattr(catalog, "MORTALITY_BASE", "http://127.0.0.1:9")


def test_known_absent_files_need_no_network(
    small_mirror: Path, tmp_path: Path, no_network: None
) -> None:
    data = tmp_path / "data"
    fetch.fetch(CYCLE_D, ["DEMO", "VID", "BMX"], data_dir=data, mirror=small_mirror)
    absent = fetch.read_absent(data)
    assert sorted(absent) == [
        "2005-2006/BMX_D.xpt",
        "linked_mortality/NHANES_III_MORT_2019_PUBLIC.dat",
    ]
    assert absent["2005-2006/BMX_D.xpt"]["source"] == str(small_mirror)
    day = str(absent["2005-2006/BMX_D.xpt"]["checked_at"])[:10]

    # `run` without --mirror: everything else is present, so no network is needed
    report = fetch.fetch(CYCLE_D, ["DEMO", "VID", "BMX"], data_dir=data)
    assert report.fetched == [] and len(report.skipped) == 3
    assert report.missing == [
        f"BMX_D (2005-2006): not offered by {small_mirror} on {day} "
        "(no network now: not asked again)",
        f"linked mortality (III): not offered by {small_mirror} on {day} "
        "(no network now: not asked again)",
    ]
    assert fetch.read_absent(data) == absent  # the record stays as the source made it

    # a file no source has declared absent still needs the network
    with pytest.raises(NetworkUnavailableError, match="--mirror"):
        fetch.fetch(CYCLE_D, ["DEMO", "VID", "BMX", "SMQ"], data_dir=data)
    assert _parts(data) == []


def test_known_absent_files_are_asked_for_again_with_network(
    small_mirror: Path, server: _Server, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    fetch.fetch(CYCLE_D, ["DEMO", "BMX"], data_dir=data, mirror=small_mirror, mortality=False)
    assert "2005-2006/BMX_D.xpt" in fetch.read_absent(data)
    write_xpt(server.root / "2005-2006" / "BMX_D.xpt", {"SEQN": [31127.0], "BMXBMI": [24.2]})
    report = fetch.fetch(
        CYCLE_D, ["DEMO", "BMX"], data_dir=data, mirror=server.url, mortality=False
    )
    assert report.fetched == ["2005-2006/BMX_D.xpt"] and report.missing == []
    assert fetch.read_absent(data) == {}


# ------------------------------------------------------------------------- the data dir


def test_data_dir_that_is_a_file(small_mirror: Path, tmp_path: Path) -> None:
    file = tmp_path / "raw"
    file.write_text("not a folder")
    with pytest.raises(DataDirError, match=r"raw is a file, not a folder: pass --data-dir") as info:
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=file, mirror=small_mirror)
    assert isinstance(info.value, FetchError) and str(file) in str(info.value)
    assert file.read_text() == "not a folder"


def test_cli_data_dir_that_is_a_file_is_one_line(
    small_mirror: Path, tmp_path: Path, cli_main: CliMain
) -> None:
    file = tmp_path / "raw"
    file.write_text("")
    args = ["fetch", "--cycles", "2005-2006", "--tables", "DEMO", "--mirror", str(small_mirror)]
    code, stdout, stderr = cli_main(*args, "--data-dir", str(file))
    assert code == 1
    lines = [line for line in (stdout + stderr).splitlines() if line.strip()]
    assert len(lines) == 1, stdout + stderr
    assert lines[0].startswith("error:") and str(file) in lines[0]
    assert "is a file, not a folder: pass --data-dir a folder" in lines[0]


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else True,
    reason="root writes anywhere: permissions are not enforced",
)
def test_unwritable_data_dir(small_mirror: Path, tmp_path: Path) -> None:
    data = tmp_path / "locked"
    data.mkdir()
    data.chmod(0o500)
    try:
        if os.access(data, os.W_OK):
            pytest.skip("permissions are not enforced here")
        with pytest.raises(DataDirError, match=r"cannot write to the data dir .*locked") as info:
            fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mirror=small_mirror)
        assert "mirror archive" not in str(info.value)
        packed = tmp_path / "packed"
        packed.mkdir()
        with tarfile.open(packed / "nhanes-mirror-test.tar.xz", "w:xz") as tar:
            tar.add(small_mirror, arcname="nhanes-mirror")
        with pytest.raises(DataDirError, match="cannot write to the data dir"):
            fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mirror=packed)
    finally:
        data.chmod(0o700)


def test_failing_writes_blame_the_data_dir(small_mirror: Path, tmp_path: Path) -> None:
    # runs as root too: /dev/full fails every write with "No space left on device"
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with pytest.raises(DataDirError, match=r"cannot write to the data dir /dev \(No space"):
        fetch._write_blocks([b"x" * 200_000], Path("/dev/full"))


def test_unwritable_data_dir_as_the_os_reports_it(
    small_mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a read-only data dir looks like to fetch, whoever runs the test
    data = tmp_path / "data"
    data.mkdir()
    real_mkstemp = fetch.tempfile.mkstemp

    def mkstemp(*args: object, dir: object = None, **kwargs: object) -> tuple[int, str]:
        if Path(str(dir)).is_relative_to(data):
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(fetch.tempfile, "mkstemp", mkstemp)
    with pytest.raises(DataDirError, match=rf"data dir {data} \(Permission denied\)"):
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=data, mirror=small_mirror)


# ------------------------------------------------------------------------- the real mirror


@pytest.mark.mirror
def test_real_mirror_counts(nhanes_data_dir: Path) -> None:
    """CDC's published row counts, read back from a data dir fetched from the mirror."""
    for cycle, rows in (("2001-2002", 11039), ("2003-2004", 10122), ("2005-2006", 10348)):
        assert read.load_table(nhanes_data_dir, "DEMO", cycle).height == rows
    nh3 = read.load_mortality(nhanes_data_dir, "III")
    assert nh3 is not None
    frame, release = nh3
    assert release == 2019
    assert frame.height == 33994
    assert (frame["ELIGSTAT"] == 1).sum() == 19599
    assert (frame["MORTSTAT"] == 1).sum() == 8623


@pytest.mark.mirror
def test_real_mirror_every_file(nhanes_data_dir: Path, mirror_dir: Path) -> None:
    mirror_files = _files(mirror_dir) - {"MANIFEST.tsv"}
    fetched = {str(e["file"]) for e in fetch.iter_manifest(nhanes_data_dir)}
    assert fetched == mirror_files
    # a second fetch copies nothing
    again = fetch.fetch(None, fetched_components(), data_dir=nhanes_data_dir, mirror=mirror_dir)
    assert again.fetched == [] and len(again.skipped) == len(mirror_files)


@pytest.mark.mirror
def test_real_archive_subset(mirror_archive: Path, tmp_path: Path) -> None:
    report = fetch.fetch(
        catalog.parse_cycles("2011-2012"), ["DEMO"], data_dir=tmp_path, mirror=mirror_archive.parent
    )
    assert report.fetched == [
        "2011-2012/DEMO_G.xpt",
        "linked_mortality/NHANES_2011_2012_MORT_2019_PUBLIC.dat",
        "linked_mortality/NHANES_III_MORT_2019_PUBLIC.dat",
    ]
    assert read.load_table(tmp_path, "DEMO", "2011-2012").height == 9756


def test_fetched_files_get_the_users_usual_mode(small_mirror: Path, tmp_path: Path) -> None:
    """Not mkstemp's 0600: a data dir shared by a group reads as its umask says."""
    old = os.umask(0o022)
    try:
        fetch.fetch(CYCLE_D, ["DEMO"], data_dir=tmp_path / "data", mirror=small_mirror,
                    mortality=False)  # fmt: skip
    finally:
        os.umask(old)
    mode = (tmp_path / "data" / "2005-2006" / "DEMO_D.xpt").stat().st_mode & 0o777
    assert mode == 0o644
