"""The dataset cache serves what was imported or says why not: names stay inside it, a manifest only serves the
arrays it was written with, a killed import leaves neither a half-written pair nor its temporary files, and
one damaged manifest costs only itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fixtures_layouts as fl
import numpy as np
import pytest
from cli_helpers import error_line, run

from bench.core.errors import DataError
from bench.data import catalog
from bench.data import store as datastore


@pytest.fixture
def ck(tmp_path: Path) -> Path:
    return fl.ck48(tmp_path / "ck").root


# ---------------------------------------------------------------------- item 1: dataset names
@pytest.mark.parametrize("name", ["../v", "ABSOLUTE", ".", "..", ".v", "a/b", "x:y", "x y", ""])
def test_a_dataset_name_is_a_plain_name(capsys, tmp_path, ck, name):
    name = str(tmp_path / "abs") if name == "ABSOLUTE" else name
    cache = datastore.data_dir()
    before = sorted(tmp_path.rglob("*"))
    err = error_line(*run(capsys, "data", "import", "ck48", ck, "--name", name)[::2])
    assert "--name" in err and "plain name" in err
    assert sorted(tmp_path.rglob("*")) == before
    assert not cache.exists() or not any(cache.iterdir())


def test_plain_names_with_every_allowed_character_import_and_load(capsys, ck):
    code, out, err = run(capsys, "data", "import", "ck48", ck, "--name", "CK-48_v1.2+x=3,b")
    assert code == 0, err
    assert len(catalog.load("CK-48_v1.2+x=3,b")) > 0


# ---------------------------------------------------------------------- item 4: manifest and arrays agree
def test_a_crash_between_the_two_renames_is_detected_and_reimported(capsys, ck, monkeypatch):
    assert run(capsys, "data", "import", "ck48", ck, "--name", "ckr")[0] == 0
    old = catalog.load("ckr")
    real_replace, calls = os.replace, []

    def dies_after_the_arrays(src, dst):
        calls.append(dst)
        real_replace(src, dst)
        if str(dst).endswith(".npz"):
            raise KeyboardInterrupt  # the process is killed before the manifest is renamed

    monkeypatch.setattr(datastore.os, "replace", dies_after_the_arrays)
    with pytest.raises(KeyboardInterrupt):
        catalog.import_dataset("ck48", ck, name="ckr", force=True, size=32)
    monkeypatch.setattr(datastore.os, "replace", real_replace)
    # New arrays beside the old manifest: loading says so instead of serving them.
    with pytest.raises(DataError, match="half-written"):
        catalog.load("ckr")
    # Importing again with the first options imports again rather than answering "already imported".
    code, out, err = run(capsys, "data", "import", "ck48", ck, "--name", "ckr")
    assert code == 0, err
    assert out.startswith("imported 'ckr'")
    again = catalog.load("ckr")
    assert again.image_size == old.image_size and again.fingerprint() == old.fingerprint()
    assert not list(datastore.data_dir().glob(".*.tmp"))


def test_arrays_swapped_under_a_manifest_are_refused(capsys, tmp_path, ck):
    assert run(capsys, "data", "import", "ck48", ck, "--name", "one")[0] == 0
    assert run(capsys, "data", "import", "ck48", ck, "--name", "two", "--size", "32")[0] == 0
    root = datastore.data_dir()
    (root / "one.npz").write_bytes((root / "two.npz").read_bytes())
    err = error_line(*run(capsys, "data", "info", "one")[::2])
    assert "one.npz does not match the digest in one.json" in err and "--force" in err
    manifest = json.loads((root / "two.json").read_text())
    assert manifest["arrays"]["images_shape"][1:] == [32, 32] and len(manifest["arrays"]["sha256"]) == 64


def test_a_cache_written_before_digests_is_still_checked_by_shape(capsys, ck):
    assert run(capsys, "data", "import", "ck48", ck, "--name", "one")[0] == 0
    assert run(capsys, "data", "import", "ck48", ck, "--name", "two", "--size", "32")[0] == 0
    root = datastore.data_dir()
    legacy = json.loads((root / "one.json").read_text())
    del legacy["arrays"]
    (root / "one.json").write_text(json.dumps(legacy))
    assert len(catalog.load("one")) == legacy["n_images"]  # an intact legacy cache loads
    (root / "one.npz").write_bytes((root / "two.npz").read_bytes())
    with pytest.raises(DataError, match=r"holds images of shape \[\d+, 32, 32\], one.json says \[\d+, 48, 48\]"):
        catalog.load("one")


def test_a_killed_imports_temporary_files_are_removed(capsys, ck):
    from bench.core.locks import FileLock

    root = datastore.data_dir()
    root.mkdir(parents=True, exist_ok=True)
    orphans = [root / ".ckr.npz.k2j4a9z0.tmp", root / ".ckr.json.q8w7e6r5.tmp", root / ".other.npz.abcd1234.tmp"]
    for p in orphans:
        p.write_bytes(b"\0" * 1000)
    busy = root / ".busy.npz.zzzz9999.tmp"  # an import of 'busy' is running: its file is not an orphan
    busy.write_bytes(b"\0")
    holder = FileLock(root / ".busy.lock")
    assert holder.acquire("a running import")
    try:
        assert run(capsys, "data", "import", "ck48", ck, "--name", "ckr")[0] == 0
        assert not any(p.exists() for p in orphans)
        assert busy.exists()
    finally:
        holder.release()


def test_two_imports_of_one_name_at_once_are_refused(capsys, ck):
    from bench.core.locks import FileLock

    root = datastore.data_dir()
    holder = FileLock(root / ".ckr.lock")
    assert holder.acquire("pid 77 importing 'ckr'")
    try:
        err = error_line(*run(capsys, "data", "import", "ck48", ck, "--name", "ckr")[::2])
        assert "another import of 'ckr'" in err and "pid 77" in err
    finally:
        holder.release()


# ---------------------------------------------------------------------- items 9 and 12: damaged manifests
@pytest.mark.parametrize("content", ["[]", "{}", "{\"name\": \"bad\"", "null"])
def test_data_list_names_a_damaged_manifest_and_lists_the_rest(capsys, ck, content):
    assert run(capsys, "data", "import", "ck48", ck, "--name", "good")[0] == 0
    root = datastore.data_dir()
    (root / "bad.npz").write_bytes((root / "good.npz").read_bytes())
    (root / "bad.json").write_text(content)
    code, out, err = run(capsys, "data", "list")
    assert code == 0, err
    assert "| good" in out and "synth-lab" in out
    bad = next(line for line in out.splitlines() if line.startswith("| bad"))
    assert "damaged" in bad and "bad.json" in bad and "--force" in bad
    # Loading it names the file and the fix, not "unknown dataset ... did you mean".
    err = error_line(*run(capsys, "data", "info", "bad")[::2])
    assert "bad.json is damaged" in err and "unknown dataset" not in err and "--force" in err


def test_data_dir_pointing_at_a_file_is_one_line(capsys, tmp_path, ck):
    file = tmp_path / "not-a-folder"
    file.write_text("x")
    err = error_line(*run(capsys, "data", "import", "ck48", ck, "--data-dir", file)[::2])
    assert "--data-dir" in err and "is a file" in err
    err = error_line(*run(capsys, "run", "--protocol", "random", "--dataset", "synth-lab", "--model", "pixels-nb",
                           "--data-dir", file, "--out", tmp_path / "o")[::2])
    assert "--data-dir" in err and "is a file" in err
    assert not (tmp_path / "o").exists()


def test_loaded_arrays_equal_the_imported_ones(capsys, ck):
    ds, fresh = catalog.import_dataset("ck48", ck, name="ckr")
    loaded = catalog.load("ckr")
    assert fresh and np.array_equal(ds.images, loaded.images) and loaded.fingerprint() == ds.fingerprint()
