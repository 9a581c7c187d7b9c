"""``bench data import`` end to end: bad input gives one-line errors and leaves caches alone; caching; info."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import fixtures_layouts as fl
import numpy as np
import pytest
from cli_helpers import run

from bench.core.errors import ConfigError
from bench.data import store as datastore
from bench.data.catalog import IMPORTERS, import_dataset
from bench.data.dataset import FERDataset

IMPORTER_NAMES = IMPORTERS.names("importers")
VICTIM = "precious"




@pytest.fixture
def cache() -> dict[str, bytes]:
    """A pre-existing cache named VICTIM; tests import into the same name and check it is untouched."""
    root = datastore.data_dir()
    ds = FERDataset(VICTIM, np.full((2, 8, 8), 7, np.uint8), [3, 4], ["a.png", "b.png"])
    datastore.save_dataset(ds, root, {"importer": "folder", "importer_version": "1", "options": {},
                                      "source_path": "/elsewhere"})
    return _snapshot()


def _snapshot() -> dict[str, bytes]:
    root = datastore.data_dir()
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


def fails(capsys: pytest.CaptureFixture[str], cache: dict[str, bytes], *argv: object,
          expect: tuple[str, ...]) -> str:
    """Run an import into VICTIM that must fail: exit 2, one line, each fragment in it, cache untouched."""
    code, out, err = run(capsys, "data", "import", *argv, "--name", VICTIM)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in expect:
        assert fragment in err, (fragment, err)
    assert _snapshot() == cache
    return err


# --------------------------------------------------------------------------- paths
@pytest.mark.parametrize("name", IMPORTER_NAMES)
def test_missing_path(capsys, cache, tmp_path: Path, name: str) -> None:
    missing = tmp_path / "no-such-folder"
    fails(capsys, cache, name, missing, expect=(str(missing), "does not exist", f"bench data import {name} --help"))


@pytest.mark.parametrize("name", IMPORTER_NAMES)
def test_empty_folder(capsys, cache, tmp_path: Path, name: str) -> None:
    (tmp_path / "empty").mkdir()
    fails(capsys, cache, name, tmp_path / "empty", expect=(f"folder {tmp_path / 'empty'} is empty",))


def test_folder_without_images(capsys, cache, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no pictures here")
    fails(capsys, cache, "jaffe", tmp_path, expect=(str(tmp_path), "no image files found", "KA.AN1.39.tiff"))


def test_subprocess_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-m", "bench", "data", "import", "kdef", str(tmp_path / "gone")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {tmp_path / 'gone'} does not exist; give the kdef dataset's root folder " \
                          "(see 'bench data import kdef --help')\n"


# --------------------------------------------------------------------------- corrupt images
def _corrupt_target(name: str, tmp_path: Path) -> tuple[Path, Path, int]:
    """Build a layout, corrupt one file the importer reads; returns (PATH, corrupt file, images when skipped)."""
    if name == "ckplus":
        lay, seqs = fl.ckplus(tmp_path / "CK+")
        target = seqs[0].frames[-1]
        return lay.root, target, 6
    if name == "ck48":
        lay = fl.ck48(tmp_path)
    elif name == "fer2013":
        lay = fl.fer2013_folders(tmp_path / "fer")
    elif name == "jaffe":
        lay = fl.jaffe(tmp_path / "jaffe")
    elif name == "kdef":
        lay = fl.kdef(tmp_path / "kdef")
    elif name == "table":
        lay, _ = fl.raf_table(tmp_path / "raf")
    else:
        lay = fl.folder(tmp_path / "f")
    target = sorted(f for f, e in lay.expected.items() if e.meta.get("angle", "S") == "S")[1]
    kept = sum(1 for e in lay.expected.values() if e.meta.get("angle", "S") == "S") - 1
    return lay.root, Path(target), kept


@pytest.mark.parametrize("name", IMPORTER_NAMES)
def test_corrupt_image_names_file_and_skip_option(capsys, cache, tmp_path: Path, name: str) -> None:
    root, target, kept = _corrupt_target(name, tmp_path)
    fl.corrupt(target)
    extra = {"folder": ("--class-map", "glee=happy,rage=angry"), "table": _table_args()}.get(name, ())
    fails(capsys, cache, name, root, *extra, expect=(f"image {target} is corrupt", "--skip-corrupt"))
    code, out, err = run(capsys, "data", "import", name, root, *extra, "--skip-corrupt")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("skipped corrupt: 1 files: "))
    assert target.as_posix().endswith("/" + line.split(": ", 2)[2])
    ds = datastore.load_dataset(datastore.data_dir(), name)
    assert len(ds) == kept and str(target) not in ds.files.tolist()


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_empty_or_truncated_file(capsys, cache, tmp_path: Path, content: bytes) -> None:
    fl.folder(tmp_path)
    target = tmp_path / "glee" / "s01" / "s01_take1_0003.png"
    target.write_bytes(content)
    fails(capsys, cache, "folder", tmp_path, "--class-map", "glee=happy,rage=angry",
          expect=(str(target), f"({len(content)} bytes)", "--skip-corrupt"))


# --------------------------------------------------------------------------- FER2013 CSV
def _row(code: object = 3, pixels: str | None = None, usage: str = "Training") -> tuple[object, str, str]:
    return code, pixels if pixels is not None else " ".join(["128"] * 2304), usage


@pytest.mark.parametrize("header,rows,expect", [
    ("label,image,Usage", [_row()], ("header is label,image,usage", "expected emotion,pixels,Usage")),
    (None, [_row(), _row(pixels=" ".join(["1"] * 2300))], ("row 1 (line 3)", "2300 pixel values, expected 2304")),
    (None, [_row(pixels=" ".join(["7"] * 2303 + ["x1"]))], ("row 0 (line 2)", "pixel value 'x1' is not a number")),
    (None, [_row(pixels=" ".join(["7"] * 2303 + ["²"]))], ("row 0 (line 2)", "pixel value '²' is not a number")),
    (None, [_row(pixels=" ".join(["300"] * 2304))], ("row 0", "must lie in 0..255")),
    (None, [_row(), _row(), _row(code=9)], ("row 2", "unknown emotion code '9'", "0 angry")),
    (None, [_row(code="happy")], ("row 0", "unknown emotion code 'happy'",)),
    (None, [_row(usage="Validation")], ("row 0", "Usage 'Validation' is not one of Training, PublicTest")),
    (None, [], ("has a header but no rows",)),
])
def test_bad_fer2013_csv(capsys, cache, tmp_path: Path, header, rows, expect) -> None:
    path = fl.write_fer_csv(tmp_path / "fer2013.csv", rows, header or "emotion,pixels,Usage")
    fails(capsys, cache, "fer2013", path, expect=(str(path), *expect))


def test_fer2013_binary_file(capsys, cache, tmp_path: Path) -> None:
    path = tmp_path / "fer2013.zip"
    path.write_bytes(b"PK\x03\x04\xff\xfe\x00\x00" * 50)
    fails(capsys, cache, "fer2013", path, expect=(str(path), "expected emotion,pixels,Usage"))


def test_images_outside_class_folders(capsys, cache, tmp_path: Path) -> None:
    fl.save(tmp_path / "img1.png", np.zeros((8, 8), np.uint8))
    fails(capsys, cache, "folder", tmp_path, expect=("only images directly in it (img1.png ...)",
                                                     "one folder per class"))


def test_fer2013_folder_with_two_csvs(capsys, cache, tmp_path: Path) -> None:
    fl.fer2013_csv(tmp_path / "a.csv", 2)
    fl.fer2013_csv(tmp_path / "b.csv", 2)
    fails(capsys, cache, "fer2013", tmp_path, expect=("found 2 CSV files", "train/ + test/"))


# --------------------------------------------------------------------------- labels
def test_unknown_folder_label(capsys, cache, tmp_path: Path) -> None:
    lay = fl.ck48(tmp_path)
    (lay.root / "anger").rename(lay.root / "rage")
    fails(capsys, cache, "ck48", tmp_path, expect=(f"unknown emotion label 'rage' in folder {lay.root / 'rage'}",
                                                   "rename or remove the folder"))


def test_unknown_fer2013_folder_label(capsys, cache, tmp_path: Path) -> None:
    lay = fl.fer2013_folders(tmp_path)
    (lay.root / "test" / "happy").rename(lay.root / "test" / "joyful")
    fails(capsys, cache, "fer2013", tmp_path, expect=("unknown emotion label 'joyful'", "test/joyful"))


def test_unknown_folder_label_suggests_class_map(capsys, cache, tmp_path: Path) -> None:
    fl.folder(tmp_path)
    fails(capsys, cache, "folder", tmp_path, expect=("unknown emotion label 'glee'", str(tmp_path / "glee"),
                                                     "--class-map 'glee=CLASS'", "'glee=skip'"))


CODE_LIST = "codes are 0 neutral, 1 angry, 2 contempt"


@pytest.mark.parametrize("text,expect", [("   9.0000000e+00", ("unknown CK+ emotion code 9.0000000e+00", CODE_LIST)),
                                         ("2.5", ("unknown CK+ emotion code 2.5", CODE_LIST)),
                                         ("happy", ("'happy' is not a CK+ emotion code", "3.0000000e+00")),
                                         ("nan", ("unknown CK+ emotion code nan", CODE_LIST)),
                                         ("inf", ("unknown CK+ emotion code inf", CODE_LIST)),
                                         ("-Infinity", ("unknown CK+ emotion code -Infinity", CODE_LIST))])
def test_unknown_ckplus_code(capsys, cache, tmp_path: Path, text: str, expect: tuple[str, ...]) -> None:
    lay, _ = fl.ckplus(tmp_path)
    emo = sorted((tmp_path / "Emotion").glob("*/*/*_emotion.txt"))[2]
    emo.write_text(text)
    fails(capsys, cache, "ckplus", lay.root, expect=(str(emo), *expect))


def test_ckplus_sequence_with_two_emotion_files(capsys, cache, tmp_path: Path) -> None:
    lay, seqs = fl.ckplus(tmp_path)
    emo = sorted((tmp_path / "Emotion" / "S005" / "001").glob("*_emotion.txt"))[0]
    (emo.parent / f"{seqs[0].frames[-2].stem}_emotion.txt").write_text("   5.0000000e+00\n")
    fails(capsys, cache, "ckplus", lay.root, expect=("sequence S005/001 has 2 emotion files", emo.name,
                                                     "remove the extra files"))


def test_dangling_link_is_named_as_such(capsys, cache, tmp_path: Path) -> None:
    fl.folder(tmp_path)
    target = tmp_path / "glee" / "s01" / "s01_take1_0003.png"
    target.unlink()
    target.symlink_to(tmp_path / "gone.png")
    err = fails(capsys, cache, "folder", tmp_path, "--class-map", "glee=happy,rage=angry",
                expect=(str(target), "dangling link", "--skip-corrupt"))
    assert "permission" not in err


def test_ckplus_label_without_frames(capsys, cache, tmp_path: Path) -> None:
    lay, seqs = fl.ckplus(tmp_path)
    for f in seqs[1].frames:
        f.unlink()
    fails(capsys, cache, "ckplus", lay.root, expect=("labels sequence S005/002", "holds no frames"))


def test_unknown_jaffe_and_kdef_codes(capsys, cache, tmp_path: Path) -> None:
    fl.jaffe(tmp_path / "j")
    bad = tmp_path / "j" / "jaffe" / "KA.XX1.500.tiff"
    fl.save(bad, np.zeros((32, 32), np.uint8), "TIFF")
    fails(capsys, cache, "jaffe", tmp_path / "j", expect=(str(bad), "unknown JAFFE expression code 'XX'", "AN angry"))
    fl.kdef(tmp_path / "k")
    bad = tmp_path / "k" / "KDEF" / "AF01" / "AF01XXS.JPG"
    fl.save(bad, np.zeros((40, 30), np.uint8), "JPEG")
    fails(capsys, cache, "kdef", tmp_path / "k", expect=(str(bad), "unknown KDEF expression code 'XX'", "AF fear"))
    bad.rename(bad.with_name("portrait.JPG"))
    fails(capsys, cache, "kdef", tmp_path / "k", expect=("portrait.JPG", "e.g. AF01ANS.JPG"))


# --------------------------------------------------------------------------- classes with no images
@pytest.mark.parametrize("name,make,empty", [
    ("ck48", lambda p: fl.ck48(p), "CK+48/fear"),
    ("fer2013", lambda p: fl.fer2013_folders(p), "test/disgust"),
    ("folder", lambda p: fl.folder(p), "rage"),
])
def test_class_folder_without_images(capsys, cache, tmp_path: Path, name: str, make, empty: str) -> None:
    make(tmp_path)
    for f in (tmp_path / empty).rglob("*.*"):
        f.unlink()
    (tmp_path / empty / "Thumbs.db").write_text("not an image")
    argv = ("--class-map", "glee=happy,rage=angry") if name == "folder" else ()
    fails(capsys, cache, name, tmp_path, *argv, expect=(f"class folder {tmp_path / empty} has no images",))


# --------------------------------------------------------------------------- names and options
def test_unknown_importer_name(capsys, cache, tmp_path: Path) -> None:
    code, out, err = run(capsys, "data", "import", "fer2031", tmp_path)
    assert code == 2 and "invalid choice: 'fer2031'" in err and "'fer2013'" in err
    with pytest.raises(ConfigError, match="unknown importer 'fer2031'; did you mean 'fer2013'"):
        import_dataset("fer2031", tmp_path)
    assert _snapshot() == cache


def test_unknown_dataset_name_suggests_an_imported_one(capsys, cache) -> None:
    code, out, err = run(capsys, "data", "info", "precous")
    assert code == 2 and err.count("\n") == 1
    assert "unknown dataset 'precous'; did you mean 'precious'?" in err
    code, out, err = run(capsys, "data", "info", "kdef")
    assert code == 2 and "dataset 'kdef' is not imported" in err and "bench data import kdef PATH" in err


@pytest.mark.parametrize("name,argv,expect", [
    ("ckplus", ("--frames", "last0"), "--frames 'last0' is not 'peak' or 'lastN'"),
    ("kdef", ("--angles", "UP"), "--angles 'UP': use frontal, all, or a comma list"),
    ("jaffe", ("--size", "huge"), "--size 'huge' is not a side length"),
    ("folder", ("--class-map", "glee"), "--class-map item 'glee' is not FOLDER=CLASS"),
    ("folder", ("--class-map", "glee=happy,Glee=sad"), "--class-map maps folder 'Glee' twice (happy, sad)"),
    ("folder", ("--class-map", "KDEF=skip"), "--class-map leaves out every folder"),
    ("folder", ("--subject-regex", "(s"), "--subject-regex '(s' is not a valid regular expression"),
])
def test_bad_option_values(capsys, cache, tmp_path: Path, name: str, argv: tuple[str, ...], expect: str) -> None:
    fl.ckplus(tmp_path) if name == "ckplus" else fl.kdef(tmp_path)
    fails(capsys, cache, name, tmp_path, *argv, expect=(expect,))


# --------------------------------------------------------------------------- cache behaviour
def test_reimport_is_a_cache_hit_until_an_option_changes(capsys, tmp_path: Path) -> None:
    fl.jaffe(tmp_path / "j")
    assert run(capsys, "data", "import", "jaffe", tmp_path / "j", "--size", "32")[0] == 0
    before = _snapshot()
    code, out, _ = run(capsys, "data", "import", "jaffe", tmp_path / "j", "--size", "32")
    assert code == 0 and "'jaffe' is already imported with these options" in out and _snapshot() == before
    code, out, _ = run(capsys, "data", "import", "jaffe", tmp_path / "j", "--size", "24")
    assert code == 0 and out.startswith("imported 'jaffe': 27 images 24x24")
    manifest = datastore.read_manifest(datastore.data_dir(), "jaffe")
    assert manifest["options"]["size"] == 24 and manifest["importer"] == "jaffe"
    code, out, _ = run(capsys, "data", "import", "jaffe", tmp_path / "j", "--size", "24", "--force")
    assert code == 0 and out.startswith("imported 'jaffe'")


def test_data_dir_flag_and_env_var(capsys, tmp_path: Path, monkeypatch) -> None:
    lay = fl.ck48(tmp_path / "src")
    env_dir = Path(os.environ[datastore.ENV_VAR])
    flag_dir = tmp_path / "flagged"
    assert run(capsys, "data", "import", "ck48", lay.root, "--data-dir", flag_dir)[0] == 0
    assert (flag_dir / "ck48.npz").is_file() and not (env_dir / "ck48.npz").exists()
    code, out, _ = run(capsys, "data", "info", "ck48", "--data-dir", flag_dir)
    assert code == 0 and f"images: {len(lay.expected)}" in out
    assert run(capsys, "data", "info", "ck48")[0] == 2  # not in the env-var cache
    other = tmp_path / "env2"
    monkeypatch.setenv(datastore.ENV_VAR, str(other))
    assert run(capsys, "data", "import", "ck48", lay.root, "--name", "ck48b")[0] == 0
    assert (other / "ck48b.npz").is_file() and (other / "ck48b.json").is_file()


# --------------------------------------------------------------------------- acceptance: import, then info
def _table_args() -> tuple[str, ...]:
    """The command-line options that read the RAF-DB-style table fl.raf_table writes."""
    return tuple(x for k, v in fl.raf_options().items() for x in (f"--{k.replace('_', '-')}", v))


def _layout(name: str, tmp_path: Path) -> tuple[Path, dict[str, fl.Expect], tuple[str, ...]]:
    if name == "ckplus":
        lay, seqs = fl.ckplus(tmp_path)
        return lay.root, fl.ckplus_expected(lay, seqs, 3, True, "merge"), (
            "--frames", "last3", "--first-as-neutral", "--contempt", "merge")
    if name == "kdef":
        lay = fl.kdef(tmp_path)
        return lay.root, {f: e for f, e in lay.expected.items() if e.meta["angle"] == "S"}, ()
    if name == "folder":
        lay = fl.folder(tmp_path)
        return lay.root, lay.expected, ("--class-map", "glee=happy,rage=angry", "--subject-regex", r"/(s\d+)/")
    if name == "table":
        lay, _ = fl.raf_table(tmp_path)
        return lay.root, lay.expected, _table_args()
    lay = {"ck48": fl.ck48, "fer2013": fl.fer2013_folders, "jaffe": fl.jaffe}[name](tmp_path)
    return lay.root, lay.expected, ()


@pytest.mark.parametrize("name", IMPORTER_NAMES)
def test_import_then_info_shows_the_counts(capsys, tmp_path: Path, name: str) -> None:
    root, expected, argv = _layout(name, tmp_path)
    code, out, err = run(capsys, "data", "import", name, root, *argv)
    assert code == 0, err
    assert out.startswith(f"imported '{name}': {len(expected)} images")
    code, out, err = run(capsys, "data", "info", name)
    assert code == 0, err
    assert f"images: {len(expected)}" in out and f"importer: {name} v1" in out
    table = dict(re.findall(r"^\| (\w+) +\| +(\d+) \|", out, re.M))
    counts: dict[str, int] = {}
    for e in expected.values():
        counts[e.label] = counts.get(e.label, 0) + 1
    assert {k: int(v) for k, v in table.items()} == counts
    subjects = {e.subject for e in expected.values()}
    if None in subjects:
        assert "subjects: none" in out
    else:
        assert f"subjects: {len(subjects)} " in out
    if name == "fer2013":
        assert "official split: PrivateTest 7, PublicTest 7, Training 21" in out
        assert "exact duplicates: 1 groups, 1 redundant images (1 groups span official splits)" in out
        assert "duplicate example: " in out and "\nduplicates:" not in out  # the counts once, not twice
    if name == "kdef":
        assert "angle: S 28" in out and "session: A 14, B 14" in out
