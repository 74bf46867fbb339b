"""The results store: entries keyed by what they depend on, verified on every read, and a run
that reuses exactly what did not change."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.derive import BuildResult
from nhanes_mg.errors import DataDirError
from nhanes_mg.jobs import store as store_module
from nhanes_mg.jobs.run import run_pipeline
from nhanes_mg.jobs.store import Payload, ResultStore, code_version
from nhanes_mg.study.spec import load_spec, shipped_spec_paths
from run_support import assert_report_rendered_again

from derive_support import session_build_in_runs


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "made"
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    (folder / "tables" / "X.csv").write_text("a,b\n1,2\n")
    return folder


def test_a_stored_result_comes_back_with_its_files(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text", 1)
    frame = pl.DataFrame({"term": ["Q4"], "estimate": [0.57]})
    payload = Payload({"verdict": "consistent", "n": [1, 2]}, {"table": frame})
    store.put(key, payload, _folder(tmp_path), ["tables/X.csv"])
    back, files = store.get(key)  # type: ignore[misc]
    assert back.data == {"verdict": "consistent", "n": [1, 2]}
    assert back.frames["table"].equals(frame) and files == [Path("tables/X.csv")]
    restored = store.restore(key, files, tmp_path / "out")
    assert restored[0].read_text() == "a,b\n1,2\n"
    # data, never code: an entry is JSON, parquet and the files the computation wrote
    kinds = {p.suffix for p in (store.root / key).rglob("*") if p.is_file()}
    assert kinds == {".json", ".parquet", ".csv"}


def test_keys_change_with_what_they_depend_on() -> None:
    assert ResultStore.key("spec", "a", 1) == ResultStore.key("spec", "a", 1)
    assert ResultStore.key("spec", "a", 1) != ResultStore.key("spec", "a", 2)
    assert ResultStore.key("spec", "a") != ResultStore.key("build", "a")
    assert len(code_version()) == 16


@pytest.mark.parametrize(
    "damage", ["data.json", "files/tables/X.csv", "entry.json", "frames/t.parquet"]
)
def test_a_damaged_entry_is_never_used(tmp_path: Path, damage: str) -> None:
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text")
    store.put(key, Payload([1, 2, 3], {"t": pl.DataFrame({"a": [1]})}), _folder(tmp_path),
              ["tables/X.csv"])  # fmt: skip
    with open(store.root / key / damage, "ab") as fh:
        fh.write(b"damaged")
    assert store.get(key) is None
    assert not (store.root / key).exists()  # removed, so the next run recomputes it


def _forge(store: ResultStore, key: str, change: dict[str, object]) -> None:
    """Edit an entry as someone with write access to the data dir would: the files and their
    sha256 in entry.json made to agree (only the store key's HMAC cannot be redone)."""
    entry_path = store.root / key / "entry.json"
    entry = json.loads(entry_path.read_text())
    (store.root / key / "data.json").write_text(json.dumps({"verdict": "forged"}))
    entry["data"] = hashlib.sha256((store.root / key / "data.json").read_bytes()).hexdigest()
    entry.update(change)
    entry_path.write_text(json.dumps(entry))


def test_an_entry_edited_with_its_checksums_updated_is_never_used(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text")
    store.put(key, Payload({"verdict": "consistent"}), _folder(tmp_path), [])
    _forge(store, key, {})
    assert store.get(key) is None and not (store.root / key).exists()


def test_an_entry_made_with_another_users_key_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text")
    monkeypatch.setenv(store_module.KEY_ENV, str(tmp_path / "someone-else.key"))
    store_module.store_key.cache_clear()
    store.put(key, Payload({"verdict": "theirs"}), _folder(tmp_path), [])
    monkeypatch.setenv(store_module.KEY_ENV, str(tmp_path / "mine.key"))
    store_module.store_key.cache_clear()
    try:
        assert store.get(key) is None  # recomputed, never trusted
        assert (tmp_path / "mine.key").stat().st_mode & 0o777 == 0o600
    finally:
        monkeypatch.undo()
        store_module.store_key.cache_clear()


def test_paths_an_entry_names_stay_inside_it(tmp_path: Path) -> None:
    """Even a correctly signed entry naming ../../x (or an absolute path) is refused, and
    restoring never writes outside the folder."""
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text")
    store.put(key, Payload({"a": 1}), _folder(tmp_path), ["tables/X.csv"])
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    for rel in ("../../../outside.txt", str(outside)):
        entry_path = store.root / key / "entry.json"
        entry = json.loads(entry_path.read_text())
        entry["files"] = {rel: hashlib.sha256(b"x").hexdigest()}
        entry["mac"] = store_module._mac(entry)  # as if signed: the path check still holds
        entry_path.write_text(json.dumps(entry))
        assert store.get(key) is None
        store.put(key, Payload({"a": 1}), _folder(tmp_path), ["tables/X.csv"])
    with pytest.raises(ValueError, match="not a plain relative path"):
        store.restore(key, [Path("../escaped.csv")], tmp_path / "out")
    assert not (tmp_path / "escaped.csv").exists() and outside.read_text() == "x"


def test_a_link_in_the_stores_place_is_never_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    data_dir = tmp_path / "raw"
    data_dir.mkdir()
    (data_dir / ".results").symlink_to(elsewhere)
    store = ResultStore(data_dir)
    key = store.key("spec", "text")
    refused = pytest.raises(DataDirError, match=r"\.results: is a link, not a folder of its own")
    with refused:
        store.put(key, Payload({"a": 1}), _folder(tmp_path), [])
    with refused:
        store.get(key)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]
    assert store.clear() == 0 and (elsewhere / "keep.txt").read_text() == "keep"
    assert not (data_dir / ".results").exists()  # the link removed, its target kept


@pytest.mark.parametrize("kind", ["link", "file"])
def test_an_entry_that_is_a_link_is_removed_and_recomputed(tmp_path: Path, kind: str) -> None:
    """A10: an entry that is a link (to a folder elsewhere) or a file made every ``put`` fail
    (``.part-…: Not a directory``); it is removed — the link itself, never its target — and
    the result stored anew."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text")
    store.root.mkdir(parents=True)
    if kind == "link":
        (store.root / key).symlink_to(elsewhere)
    else:
        (store.root / key).write_text("not an entry")
    assert store.get(key) is None and not os.path.lexists(store.root / key)
    store.put(key, Payload({"a": 1}), _folder(tmp_path), [])
    hit = store.get(key)
    assert hit is not None and hit[0].data == {"a": 1}
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]
    (store.root / key).rename(tmp_path / "moved")
    (store.root / key).symlink_to(elsewhere)  # put over a link: the link replaced, not followed
    store.put(key, Payload({"a": 2}), _folder(tmp_path), [])
    assert store.get(key) is not None and (elsewhere / "keep.txt").read_text() == "keep"


def test_clear(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "raw")
    store.put(store.key("a"), Payload(1), _folder(tmp_path), [])
    store.put(store.key("b"), Payload(2), _folder(tmp_path), [])
    assert store.clear() == 2 and store.get(store.key("a")) is None


@pytest.mark.mirror
def test_a_run_reuses_what_did_not_change(
    nhanes_data_dir: Path, mirror_dir: Path, build_result: BuildResult, tmp_path: Path
) -> None:
    # the session's data dir as hard links (its files are only ever replaced, never written in
    # place), with its parquet cache, without its stored results
    data_dir = tmp_path / "raw"
    shutil.copytree(nhanes_data_dir, data_dir, copy_function=os.link,
                    ignore=shutil.ignore_patterns(".results", "*.lock"))  # fmt: skip
    specs = tmp_path / "specs"
    specs.mkdir()
    for path in shipped_spec_paths():
        if path.name.startswith(("C1", "C7")):  # the quickest claim, and one with a curve
            shutil.copyfile(path, specs / path.name)
    paths = sorted(specs.glob("*.toml"))

    def run(out: str, force: bool = False, only: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
        # a build of this copy is the session's build of the same files
        with session_build_in_runs(build_result, data_dir) as built:
            summary = run_pipeline(data_dir=data_dir, out_dir=tmp_path / out,
                                   mirror=str(mirror_dir), spec_paths=paths, workers=1,
                                   force=force, only=only)  # fmt: skip
        assert built == ([] if "build" in summary.reused else [data_dir])
        return summary

    first = run("a")
    assert first.reused == []
    again = run("b")
    assert again.reused == ["build", "C1", "C7", "report"]  # the report too: copied back
    for name in ("C1.csv", "C7.csv", "C7_fits.csv", "verdicts.csv", "../report.html"):
        assert (tmp_path / "a" / "tables" / name).read_bytes() == (
            tmp_path / "b" / "tables" / name
        ).read_bytes(), name
    assert (tmp_path / "b" / "figures" / "C7_curve_combined.png").exists()
    assert "data:image/png;base64," in (tmp_path / "b" / "report.html").read_text()
    # no validation gallery asked for: none of its files, no section (tests/test_validation.py
    # has the session's run, which asks for it)
    assert first.validation is None and not (tmp_path / "a" / "tables" / "validation.csv").exists()
    assert not (tmp_path / "a" / "figures" / "validation.png").exists()
    assert "Validation gallery" not in (tmp_path / "a" / "report.md").read_text()

    # editing one specification recomputes that one only (the quicker one: C7 is reused)
    c1 = next(p for p in paths if p.name.startswith("C1"))
    old_title = 'title = "The calcium-to-magnesium intake ratio'
    assert old_title in c1.read_text()
    c1.write_text(c1.read_text().replace(old_title, 'title = "Calcium per magnesium eaten'))
    edited = run("c")
    assert edited.reused == ["build", "C7"]
    # its report rendered before the figures were drawn, read in at the end: the report
    # rendered now from the same results (the figures drawn) is the same but for its hour
    assert edited.report_while_drawing and not edited.jobs.get("validation")
    assert_report_rendered_again(edited, data_dir, tmp_path / "late")
    title = next(r for r in edited.results if r.spec.id == "C1").spec.title
    assert title.startswith("Calcium per magnesium eaten")
    verdicts = pl.read_csv(tmp_path / "c" / "tables" / "verdicts.csv")
    assert set(verdicts["claim"]) == {"C1", "C7"}

    # each analysis's estimates are stored apart: the title edit above recomputed none of C1's
    # analyses (only its verdicts, tables and figures), and its numbers are the same
    assert edited.jobs["C1"].analyses == {}
    for name in ("C1.csv", "C1_fits.csv"):
        assert (tmp_path / "b" / "tables" / name).read_bytes() == (
            tmp_path / "c" / "tables" / name
        ).read_bytes(), name
    # an edit of one analysis recomputes it and the sensitivity analyses made from it, only
    c7 = next(p for p in paths if p.name.startswith("C7"))
    edit = ('population = "vitd_supp > 0"\n', 'population = "vitd_supp > 0 AND age >= 21"\n')
    assert c7.read_text().count(edit[0]) == 1
    c7.write_text(c7.read_text().replace(*edit))
    spec = load_spec(c7)
    touched = {
        a.name + (f" [{a.sensitivity}]" if a.sensitivity else "")
        for a in (*spec.analyses, *spec.sensitivities)
        if a.name == "mg_among_vitd_users"
    }
    assert len(touched) > 1  # the analysis and at least one sensitivity analysis of it
    assert set(run("e", only=("C7",)).jobs["C7"].analyses) == touched
    # the same numbers as computing every analysis of the edited specification anew:
    # --force recomputes everything (the build too), reusing nothing stored above
    forced = run("f", force=True, only=("C7",))
    assert forced.reused == []
    assert len(forced.jobs["C7"].analyses) == len(spec.analyses) + len(spec.sensitivities)
    for name in ("C7.csv", "C7_fits.csv", "verdicts.csv"):
        assert (tmp_path / "e" / "tables" / name).read_bytes() == (
            tmp_path / "f" / "tables" / name
        ).read_bytes(), name
