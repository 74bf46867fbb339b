"""The results store: entries keyed by what they depend on, verified on every read, and a run
that reuses exactly what did not change."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.pipeline import run_pipeline
from nhanes_mg.spec import shipped_spec_paths
from nhanes_mg.store import ResultStore, code_version


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "made"
    (folder / "tables").mkdir(parents=True, exist_ok=True)
    (folder / "tables" / "X.csv").write_text("a,b\n1,2\n")
    return folder


def test_a_stored_result_comes_back_with_its_files(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text", 1)
    store.put(key, {"verdict": "consistent"}, _folder(tmp_path), ["tables/X.csv"])
    payload, files = store.get(key)  # type: ignore[misc]
    assert payload == {"verdict": "consistent"} and files == [Path("tables/X.csv")]
    restored = store.restore(key, files, tmp_path / "out")
    assert restored[0].read_text() == "a,b\n1,2\n"


def test_keys_change_with_what_they_depend_on() -> None:
    assert ResultStore.key("spec", "a", 1) == ResultStore.key("spec", "a", 1)
    assert ResultStore.key("spec", "a", 1) != ResultStore.key("spec", "a", 2)
    assert ResultStore.key("spec", "a") != ResultStore.key("build", "a")
    assert len(code_version()) == 16


@pytest.mark.parametrize("damage", ["payload.pkl", "files/tables/X.csv", "entry.json"])
def test_a_damaged_entry_is_never_used(tmp_path: Path, damage: str) -> None:
    store = ResultStore(tmp_path / "raw")
    key = store.key("spec", "text")
    store.put(key, [1, 2, 3], _folder(tmp_path), ["tables/X.csv"])
    with open(store.root / key / damage, "ab") as fh:
        fh.write(b"damaged")
    assert store.get(key) is None
    assert not (store.root / key).exists()  # removed, so the next run recomputes it


def test_clear(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "raw")
    store.put(store.key("a"), 1, _folder(tmp_path), [])
    store.put(store.key("b"), 2, _folder(tmp_path), [])
    assert store.clear() == 2 and store.get(store.key("a")) is None


@pytest.mark.mirror
def test_a_run_reuses_what_did_not_change(
    nhanes_data_dir: Path, mirror_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "raw"
    shutil.copytree(nhanes_data_dir, data_dir, ignore=shutil.ignore_patterns(".results", "*.lock"))
    specs = tmp_path / "specs"
    specs.mkdir()
    for path in shipped_spec_paths():
        if path.name.startswith(("C1", "C6")):
            shutil.copyfile(path, specs / path.name)
    paths = sorted(specs.glob("*.toml"))

    def run(out: str, force: bool = False):  # type: ignore[no-untyped-def]
        return run_pipeline(data_dir=data_dir, out_dir=tmp_path / out, mirror=str(mirror_dir),
                            spec_paths=paths, workers=1, force=force)  # fmt: skip

    first = run("a")
    assert first.reused == []
    again = run("b")
    assert again.reused == ["build", "C1", "C6"]
    for name in ("C1.csv", "C6.csv", "C6_fits.csv", "verdicts.csv"):
        assert (tmp_path / "a" / "tables" / name).read_bytes() == (
            tmp_path / "b" / "tables" / name
        ).read_bytes(), name
    assert (tmp_path / "b" / "figures" / "C6_robustness.png").exists()
    assert "data:image/png;base64," in (tmp_path / "b" / "report.html").read_text()

    # editing one specification recomputes that one only
    c6 = next(p for p in paths if p.name.startswith("C6"))
    c6.write_text(c6.read_text().replace('title = "Ca:Mg intake ratio', 'title = "The Ca:Mg ratio'))
    edited = run("c")
    assert edited.reused == ["build", "C1"]
    assert next(r for r in edited.results if r.spec.id == "C6").spec.title.startswith("The Ca:Mg")
    verdicts = pl.read_csv(tmp_path / "c" / "tables" / "verdicts.csv")
    assert set(verdicts["claim"]) == {"C1", "C6"}

    # --force recomputes everything
    assert run("d", force=True).reused == []
