"""The label-table importer (RAF-DB's headerless list, AffectNet's CSV, FER+'s vote table) and the flat-folder
regex importer, option by option and bad input by bad input."""

from __future__ import annotations

from pathlib import Path

import fixtures_layouts as fl
import numpy as np
import pytest

from bench.core.emotions import EMOTIONS
from bench.core.errors import ConfigError, DataError
from bench.data.importers import folder, table


def _images(root: Path, names: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    pics = fl.Pictures(seed)
    out = {}
    for name in names:
        img = pics.gray(32, 32)
        fl.save(root / name, img, "PNG")
        out[name] = img
    return out


def test_raf_db_headerless_list_with_coded_labels(tmp_path):
    lay, options = fl.raf_table(tmp_path / "raf")
    ds = table.load(lay.root, size=None, **options)
    assert sorted(ds.files.tolist()) == sorted(lay.expected)
    for f, label in zip(ds.files, ds.labels):
        assert EMOTIONS[label] == lay.expected[f].label
    assert ds.subjects is None and "present but not listed" not in ds.info["report"]


def test_affectnet_csv_with_names_subjects_splits_and_skipped_codes(tmp_path):
    names = [f"img/{i}.png" for i in range(8)]
    _images(tmp_path, names + ["img/extra.png"])
    rows = ["subDirectory_filePath,expression,person,Usage"]
    codes = ["0", "1", "2", "3", "8", "1", "0", "3"]  # 8 = contempt in AffectNet; here mapped to skip
    rows += [f"{n},{c},p{i % 3},{'Training' if i < 6 else 'PrivateTest'}" for i, (n, c) in enumerate(zip(names, codes))]
    rows.append("img/gone.png,1,p9,Training")  # listed but missing
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    ds = table.load(tmp_path, labels="labels.csv", path_col="subDirectory_filePath", label_col="expression",
                    subject_col="person", split_col="Usage", label_map="0=neutral,1=happy,2=sad,3=surprise,8=skip")
    assert len(ds) == 7 and set(ds.subjects) == {"p0", "p1", "p2"}
    assert sorted(set(ds.meta["split"])) == ["PrivateTest", "Training"]
    report = ds.info["report"]
    assert report["listed but missing"].startswith("1 images") and "img/gone.png" in report["listed but missing"]
    assert report["present but not listed"].startswith("1 images") and "extra.png" in report["present but not listed"]
    assert report["skipped rows"].startswith("1 rows")


def test_ferplus_votes_take_the_majority_and_leave_ties_out(tmp_path):
    _images(tmp_path, ["a.png", "b.png", "c.png"])
    (tmp_path / "fer2013new.csv").write_text(
        "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
        "Training,a.png,2,8,0,0,0,0,0,0,0,0\n"
        "Training,b.png,0,0,0,1,9,0,0,0,0,0\n"
        "PublicTest,c.png,5,5,0,0,0,0,0,0,0,0\n")
    ds = table.load(tmp_path, labels="fer2013new.csv", path_col="Image name", split_col="Usage",
                    vote_cols="neutral,happiness,surprise,sadness,anger,disgust,fear,contempt")
    assert dict(zip(ds.files, (EMOTIONS[c] for c in ds.labels))) == {str(tmp_path / "a.png"): "happy",
                                                                     str(tmp_path / "b.png"): "angry"}
    assert ds.info["report"]["tied votes"].startswith("1 rows")
    with pytest.raises(ConfigError, match="'unknown' is not an emotion column"):
        table.load(tmp_path, labels="fer2013new.csv", path_col="Image name", vote_cols="neutral,unknown")


def test_duplicate_rows_are_counted_and_conflicting_ones_refused(tmp_path):
    _images(tmp_path, ["a.png", "b.png"])
    (tmp_path / "t.txt").write_text("a.png happy\na.png happy\nb.png sad\n")
    ds = table.load(tmp_path, labels="t.txt", path_col="0", label_col="1")
    assert len(ds) == 2 and ds.info["report"]["duplicate rows"].startswith("1 rows")
    (tmp_path / "t.txt").write_text("a.png happy\na.png sad\nb.png sad\n")
    with pytest.raises(DataError, match="listed more than once with different labels.*--vote-cols"):
        table.load(tmp_path, labels="t.txt", path_col="0", label_col="1")


@pytest.mark.parametrize("text,kwargs,error,match", [
    ("file,label\na.png,happy\n", {"path_col": "path", "label_col": "label"}, DataError,
     "'path' is not a column; its columns are file, label"),
    ("a.png 9\n", {"path_col": "0", "label_col": "1"}, DataError,
     "labels '9' \\(1 rows\\) map to no emotion; map them with --label-map"),
    ("../outside.png happy\n", {"path_col": "0", "label_col": "1"}, DataError, "points outside the image root"),
    ("a.png happy\n", {"path_col": "0", "label_col": "1", "label_map": "h=happy,h=sad"}, ConfigError, "twice"),
    ("a.png happy\n", {"path_col": "0", "label_col": "1", "label_map": "h=glee"}, ConfigError, "'glee' is not a class"),
    ("a.png happy\n", {"path_col": "0"}, ConfigError, "--label-col"),
])
def test_bad_tables_are_one_line(tmp_path, text, kwargs, error, match):
    _images(tmp_path, ["a.png"])
    (tmp_path / "t.txt").write_text(text)
    with pytest.raises(error, match=match):
        table.load(tmp_path, labels="t.txt", **kwargs)


# --------------------------------------------------------------------------- flat folders, labels in file names
TAIWAN_RE = r"^(?P<subject>\d{2})(?P<performance>\d)(?P<view>\d)(?P<label>[a-g0])\d{2}\.png$"
TAIWAN_MAP = "a=neutral,b=happy,c=sad,d=angry,e=disgust,f=fear,g=surprise"


def test_flat_folder_with_labels_subjects_and_metadata_from_file_names(tmp_path):
    names = ["0111b01.png", "0121c02.png", "0231d01.png", "0211a03.png", "0201002.png", "readme.png"]
    _images(tmp_path, names)
    ds = folder.load(tmp_path, label_regex=TAIWAN_RE, label_map=TAIWAN_MAP)
    assert len(ds) == 4 and sorted(set(ds.subjects)) == ["01", "02"]
    assert sorted(ds.meta) == ["performance", "view"] and set(ds.meta["view"]) == {"1"}
    assert ds.info["report"]["skipped: code not in --label-map"].startswith("1 files ('0': 1)")
    assert ds.info["report"]["skipped: name does not match --label-regex"].startswith("1 files")
    with pytest.raises(ConfigError, match="has no \\(\\?P<label>...\\) group"):
        folder.load(tmp_path, label_regex=r"^(?P<subject>\d{2})")
    with pytest.raises(ConfigError, match="--label-map maps the codes --label-regex captures"):
        folder.load(tmp_path, label_map=TAIWAN_MAP)


def test_the_readmes_taiwanese_recipe_imports_as_provenance_says(tmp_path, monkeypatch, capsys):
    """The README's one-line recipe, run as written from the repository root."""
    import shlex

    from bench.cli import main
    from bench.data import catalog

    repo = Path(__file__).resolve().parents[1]
    root = repo.parent / "shared" / "data" / "taiwan" / "faces_256x256"
    if not root.is_dir():
        pytest.skip(f"{root} is absent (shared data: the Taiwanese database)")
    line = next(x for x in (repo / "README.md").read_text().splitlines()
                if x.startswith("bench data import folder ../shared/data/taiwan"))
    monkeypatch.chdir(repo)
    assert main([*shlex.split(line)[1:], "--data-dir", str(tmp_path)]) == 0
    report = capsys.readouterr().out
    ds = catalog.load("taiwan", tmp_path)
    assert len(ds) == 1223 and len(set(ds.subjects)) == 29
    assert ds.class_counts() == {"angry": 200, "disgust": 198, "fear": 151, "happy": 226, "sad": 197,
                                 "surprise": 182, "neutral": 69}
    assert set(ds.meta) >= {"performance", "view"} and ds.image_size == (48, 48)
    assert "skipped: code not in --label-map: 9 files" in report
    found = int(report.split("face found in ")[1].split()[0])
    assert found >= 0.99 * 1223, report  # the frontal Haar cascade finds nearly every performer's face
    assert (tmp_path / "taiwan.crops.png").is_file()
