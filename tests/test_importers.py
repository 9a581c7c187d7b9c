"""Importers read each native layout correctly, sample by sample; invariants hold for every registered importer."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import fixtures_layouts as fl
import numpy as np
import pytest

from bench.core.emotions import EMOTIONS
from bench.core.errors import ConfigError, DataError
from bench.data.catalog import IMPORTERS
from bench.data.dataset import FERDataset
from bench.data.importers import ck48, ckplus, fer2013, folder, jaffe, kdef

IMPORTER_NAMES = IMPORTERS.names("importers")


def check_samples(ds: FERDataset, expected: dict[str, fl.Expect], *, max_diff: float = 0.0,
                  meta: tuple[str, ...] = ()) -> None:
    """Every sample matches what the fixture builder wrote for its file: label, subject, meta, pixels."""
    assert sorted(ds.files.tolist()) == sorted(expected)
    assert len(set(ds.files.tolist())) == len(ds)
    assert sorted(ds.meta) == sorted(meta)
    for i, f in enumerate(ds.files.tolist()):
        e = expected[f]
        assert EMOTIONS[ds.labels[i]] == e.label, f
        if e.subject is None:
            assert ds.subjects is None
        else:
            assert ds.subjects[i] == e.subject, f
        for key in meta:
            assert ds.meta[key][i] == e.meta[key], (f, key)
        if e.image is not None and max_diff >= 0:
            diff = np.abs(ds.images[i].astype(int) - e.image.astype(int))
            assert diff.mean() <= max_diff, (f, diff.mean())


def test_every_importer_is_registered() -> None:
    assert sorted(IMPORTER_NAMES) == ["ck48", "ckplus", "fer2013", "folder", "jaffe", "kdef", "table"]


# --------------------------------------------------------------------------- invariants over the registry
@pytest.mark.parametrize("name", IMPORTER_NAMES)
def test_each_option_is_declared_once_and_resolved_whole(name: str) -> None:
    imp = IMPORTERS.get(name)
    assert imp.description and imp.version and all(o.help for o in imp.options)
    defaults = imp.resolve({})
    assert set(defaults) == {o.dest for o in imp.options}  # every declared option, even when not given
    assert imp.resolve(dict(defaults)) == defaults  # a resolved value resolves to itself
    with pytest.raises(ConfigError, match="has no option no_such_option"):
        imp.resolve({"no_such_option": 1})
    with pytest.raises(AttributeError, match="declares no option"):
        _ = defaults.no_such_option  # an importer cannot read an option it did not declare


@pytest.mark.parametrize("name", IMPORTER_NAMES)
def test_missing_and_empty_paths_raise_data_errors(name: str, tmp_path: Path) -> None:
    load = IMPORTERS.get(name).load
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path / "nowhere", name=name)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="is empty"):
        load(tmp_path / "empty", name=name)


@pytest.mark.parametrize("name", IMPORTER_NAMES)
def test_info_records_importer_options_and_report(name: str, tmp_path: Path) -> None:
    path, _ = _build(name, tmp_path)
    extra = {"class_map": "glee=happy,rage=angry"} if name == "folder" else {}
    if name == "table":
        extra = fl.raf_table(tmp_path / "raf")[1]
    ds = IMPORTERS.get(name).load(path, name="x", size=32, **extra)
    assert ds.info["importer"] == name and ds.info["importer_version"] == IMPORTERS.get(name).version
    assert set(ds.info["options"]) == {o.dest for o in IMPORTERS.get(name).options}
    assert ds.info["options"]["size"] == 32 and ds.image_size == (32, 32)
    assert ds.images.dtype == np.uint8 and ds.info["report"]
    assert all(isinstance(v, str) and "\n" not in v for v in ds.info["report"].values())


def _build(name: str, tmp_path: Path) -> tuple[Path, fl.Layout]:
    if name == "ckplus":
        lay, _ = fl.ckplus(tmp_path / "CK+")
        return lay.root, lay
    if name == "table":
        lay, _ = fl.raf_table(tmp_path / "raf")
        return lay.root, lay
    lay = {"ck48": lambda: fl.ck48(tmp_path), "fer2013": lambda: fl.fer2013_folders(tmp_path / "fer"),
           "folder": lambda: fl.folder(tmp_path / "f"), "jaffe": lambda: fl.jaffe(tmp_path / "j"),
           "kdef": lambda: fl.kdef(tmp_path / "k")}[name]()
    return (tmp_path if name == "ck48" else lay.root), lay


# --------------------------------------------------------------------------- FER2013
def test_fer2013_folders_keep_official_split_and_report_duplicates(tmp_path: Path) -> None:
    lay = fl.fer2013_folders(tmp_path / "fer2013")
    ds = fer2013.load(lay.root)
    check_samples(ds, lay.expected, max_diff=3.0, meta=("split",))
    assert ds.subjects is None and ds.image_size == (48, 48)
    assert ds.class_names == list(EMOTIONS[:7])
    groups = ds.duplicate_groups()
    assert len(groups) == 1 and sorted(ds.meta["split"][groups[0]]) == ["PrivateTest", "Training"]
    line = ds.info["report"]["duplicates"]
    assert line.startswith("1 groups") and "1 groups span official splits" in line
    assert "train/happy/Training_" in line and "test/happy/PrivateTest_" in line


def test_fer2013_csv_rows_become_samples(tmp_path: Path) -> None:
    lay = fl.fer2013_csv(tmp_path / "fer2013.csv")
    ds = fer2013.load(lay.root)
    check_samples(ds, lay.expected, meta=("split",))
    assert ds.files[3] == f"{lay.root}#row3"
    assert "duplicates" not in ds.info["report"]
    # PATH may also be the folder holding the CSV
    assert fer2013.load(tmp_path).fingerprint() == ds.fingerprint()


def test_fer2013_csv_without_usage_has_no_split(tmp_path: Path) -> None:
    img = fl.Pictures().gray(48, 48)
    path = tmp_path / "train.csv"
    path.write_text(f"emotion,pixels\n3,{fl.pixel_text(img)}\n")
    ds = fer2013.load(path, size=24)
    assert ds.meta == {} and ds.image_size == (24, 24) and ds.class_names == ["happy"]
    assert "resized" in ds.info["report"]


def test_fer2013_folder_without_prefixes_takes_split_from_folder(tmp_path: Path) -> None:
    pics = fl.Pictures()
    for folder_name in ("train", "test"):
        fl.save(tmp_path / folder_name / "happy" / "im0.png", pics.gray(48, 48))
    (tmp_path / "val").mkdir()
    ds = fer2013.load(tmp_path)
    assert sorted(ds.meta["split"].tolist()) == ["Test", "Training"]
    assert "lack a Training_" in ds.info["report"]["split"] and "val" in ds.info["report"]["ignored"]


# --------------------------------------------------------------------------- CK+
@pytest.mark.parametrize("frames,n_last,first,contempt", [
    ("peak", 1, False, "keep"),
    ("last3", 3, True, "merge"),
    ("last2", 2, False, "drop"),
    ("last5", 5, True, "keep"),  # the 5-frame sequences are too short to add a separate first frame
])
def test_ckplus_frames_neutral_and_contempt(tmp_path: Path, frames: str, n_last: int, first: bool,
                                            contempt: str) -> None:
    lay, seqs = fl.ckplus(tmp_path / "CK+")
    ds = ckplus.load(lay.root, frames=frames, first_as_neutral=first, contempt=contempt, size="native")
    expected = fl.ckplus_expected(lay, seqs, n_last, first, contempt)
    check_samples(ds, expected, max_diff=1.0, meta=("sequence", "frame"))
    assert ds.image_size == (40, 52)
    report = ds.info["report"]
    assert report["sequences"].startswith("7 labelled (emotion files) of 9")
    assert report["contempt"].startswith("1 sequences")
    assert ("contempt" in ds.class_names) == (contempt == "keep")
    assert ("short sequences" in report) == (n_last == 5)


def test_ckplus_paper004_count_and_default_size(tmp_path: Path) -> None:
    lay, _ = fl.ckplus(tmp_path / "CK+")
    ds = ckplus.load(lay.root, frames="last3", first_as_neutral=True, contempt="merge")
    assert len(ds) == 7 * (3 + 1) and ds.image_size == (96, 96)
    assert ds.class_counts()["neutral"] == 7
    assert "aspect ratio not kept" in ds.info["report"]["resized"]
    # PATH may also be the cohn-kanade-images folder itself
    assert len(ckplus.load(lay.root / "cohn-kanade-images")) == 7


def test_ckplus_frame_option_is_validated(tmp_path: Path) -> None:
    lay, _ = fl.ckplus(tmp_path / "CK+")
    with pytest.raises(ConfigError, match="lastN"):
        ckplus.load(lay.root, frames="last0")


# --------------------------------------------------------------------------- CK+48, JAFFE, KDEF, folder
@pytest.mark.parametrize("contempt", ["keep", "merge", "drop"])
def test_ck48_subjects_from_file_names(tmp_path: Path, contempt: str) -> None:
    lay = fl.ck48(tmp_path)
    expected = {f: e for f, e in lay.expected.items() if not (e.label == "contempt" and contempt == "drop")}
    if contempt == "merge":
        expected = {f: fl._relabel(e, "disgust" if e.label == "contempt" else e.label) for f, e in expected.items()}
    ds = ck48.load(tmp_path, contempt=contempt)  # the parent of CK+48/
    check_samples(ds, expected, meta=("sequence", "frame"))
    assert ds.image_size == (48, 48) and "resized" not in ds.info["report"]
    assert ck48.load(lay.root, contempt=contempt).fingerprint() == ds.fingerprint()  # CK+48/ itself


def test_jaffe_names_give_subject_expression_and_numbers(tmp_path: Path) -> None:
    lay = fl.jaffe(tmp_path)
    ds = jaffe.load(tmp_path, size="native")
    check_samples(ds, lay.expected, meta=("sample", "image"))
    assert sorted(ds.subject_counts()) == ["KA", "KL", "YM"] and len(ds.classes) == 7
    big = jaffe.load(tmp_path)
    assert big.image_size == (96, 96) and big.info["report"]["resized"].startswith("frames resized to 96x96")


@pytest.mark.parametrize("angles,kept", [("frontal", ("S",)), ("all", fl.KDEF_ANGLES), ("HL,hr", ("HL", "HR"))])
def test_kdef_angles_sessions_and_subjects(tmp_path: Path, angles: str, kept: tuple[str, ...]) -> None:
    lay = fl.kdef(tmp_path)
    expected = {f: e for f, e in lay.expected.items() if e.meta["angle"] in kept}
    ds = kdef.load(tmp_path, angles=angles, size="native")
    check_samples(ds, expected, max_diff=3.0, meta=("session", "angle"))
    # AF01 and BF01 are one person: 2 subjects, each in both sessions
    assert ds.subject_counts() == {"F01": 14 * len(kept), "M02": 14 * len(kept)}
    assert set(ds.meta["session"].tolist()) == {"A", "B"}
    assert ds.info["report"]["angles"] == f"{','.join(kept)}: {len(expected)} of 140 images"


def test_kdef_rejects_unknown_angle(tmp_path: Path) -> None:
    fl.kdef(tmp_path)
    with pytest.raises(ConfigError, match="FL, HL, S, HR, FR"):
        kdef.load(tmp_path, angles="S,UP")


def test_folder_class_map_and_subject_regex(tmp_path: Path) -> None:
    lay = fl.folder(tmp_path)
    ds = folder.load(tmp_path, class_map="glee=happy, RAGE=anger", subject_regex=r"^[^/]+/(s\d+)/")
    assert ds.info["report"]["class map"] == "glee=happy, rage=angry"
    check_samples(ds, lay.expected)
    named = folder.load(tmp_path, class_map="glee=happy,rage=angry", subject_regex=r"(?P<take>take\d)_(?P<subject>\d+)")
    assert sorted(set(named.subjects.tolist())) == ["0003", "0006"]
    plain = folder.load(tmp_path, class_map="glee=happy,rage=angry,neutral=skip")
    assert plain.subjects is None and plain.class_names == ["angry", "happy"]
    assert plain.info["report"]["skipped folders"] == "Neutral"


def test_folder_mixed_sizes_need_size(tmp_path: Path) -> None:
    pics = fl.Pictures()
    fl.save(tmp_path / "happy" / "a.png", pics.gray(24, 24))
    fl.save(tmp_path / "sad" / "b.png", pics.gray(30, 20))
    with pytest.raises(DataError, match=r"sad/b.png is 20x30.*--size"):
        folder.load(tmp_path)
    assert folder.load(tmp_path, size=16).image_size == (16, 16)


@pytest.mark.parametrize("bad,match", [("glee", "not FOLDER=CLASS"), ("glee=joyous", "not a class"),
                                       ("nothere=happy", "does not have")])
def test_folder_class_map_errors(tmp_path: Path, bad: str, match: str) -> None:
    fl.folder(tmp_path)
    with pytest.raises(ConfigError, match=match):
        folder.load(tmp_path, class_map=bad)


def test_folder_subject_regex_must_match(tmp_path: Path) -> None:
    fl.folder(tmp_path)
    with pytest.raises(DataError, match="does not match its path"):
        folder.load(tmp_path, class_map="glee=happy,rage=angry", subject_regex=r"subject(\d+)")
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        folder.load(tmp_path, subject_regex="(")


# --------------------------------------------------------------------------- face cropping
def _faces_folder(root: Path) -> None:
    from skimage import data

    face = data.astronaut()
    fl.save(root / "happy" / "face.png", face)
    fl.save(root / "happy" / "noise.png", np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8))
    fl.save(root / "sad" / "mirrored.png", np.ascontiguousarray(face[:, ::-1]))


@pytest.mark.parametrize("if_no_face", ["keep", "drop"])
def test_crop_faces_reports_missed_faces(tmp_path: Path, if_no_face: str) -> None:
    _faces_folder(tmp_path)
    ds = folder.load(tmp_path, size=32, crop_faces=True, if_no_face=if_no_face)
    line = ds.info["report"]["faces"]
    assert line.startswith("face found in 2 of 3 images (66.7%) by the ")
    assert "cropped with a margin of 0.1 of the box on each side" in line
    assert ("kept as the full frame resized: happy/noise.png" in line) == (if_no_face == "keep")
    assert ("dropped: happy/noise.png" in line) == (if_no_face == "drop")
    assert len(ds) == (3 if if_no_face == "keep" else 2) and ds.image_size == (32, 32)
    face = cv2.cvtColor(cv2.imread(str(tmp_path / "happy" / "face.png")), cv2.COLOR_BGR2GRAY)
    full = cv2.resize(face, (32, 32), interpolation=cv2.INTER_AREA)
    idx = ds.files.tolist().index(str(tmp_path / "happy" / "face.png"))
    assert np.abs(ds.images[idx].astype(int) - full).mean() > 10  # a crop, not the whole frame


def test_find_face_locates_the_astronaut() -> None:
    from skimage import data

    from bench.data.facecrop import crop_box, find_face

    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    x, y, w, h = find_face(gray)
    assert 180 < x + w / 2 < 270 and 80 < y + h / 2 < 170 and 60 < w < 200  # her face, not the flag or suit
    crop = crop_box(gray, (x, y, w, h))
    assert crop.shape[0] == crop.shape[1] > w
    assert crop_box(gray, (480, 480, 100, 100)).shape == (120, 120)  # kept inside the frame


def test_face_margin_widens_the_crop_and_is_checked(tmp_path: Path) -> None:
    from skimage import data

    from bench.data.facecrop import crop_box, find_face

    _faces_folder(tmp_path)
    gray = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    box = find_face(gray)
    assert crop_box(gray, box, 0.3).shape[0] > crop_box(gray, box, 0.1).shape[0] > crop_box(gray, box, 0.0).shape[0]
    tight = folder.load(tmp_path, size=32, crop_faces=True, face_margin=0.0)
    wide = folder.load(tmp_path, size=32, crop_faces=True, face_margin=0.3)
    assert "margin of 0.3 of the box" in wide.info["report"]["faces"]
    idx = wide.files.tolist().index(str(tmp_path / "happy" / "face.png"))
    assert np.abs(tight.images[idx].astype(int) - wide.images[idx]).mean() > 5
    for bad in ("-0.1", "1.5", "wide"):
        with pytest.raises(ConfigError, match="--face-margin"):
            folder.load(tmp_path, size=32, crop_faces=True, face_margin=bad)


def test_an_import_with_crop_faces_saves_a_thumbnail_grid_and_names_it(tmp_path: Path) -> None:
    from bench.data import catalog

    _faces_folder(tmp_path / "src")
    ds, _ = catalog.import_dataset("folder", tmp_path / "src", name="faces", data_dir=tmp_path / "cache",
                                   size=32, crop_faces=True)
    grid_file = tmp_path / "cache" / "faces.crops.png"
    grid = cv2.imread(str(grid_file), cv2.IMREAD_GRAYSCALE)
    assert grid.shape == (34, 2 * 34)  # the two crops with a face, one row, a 1-pixel white frame around each
    assert str(grid_file) in ds.info["report"]["face crops"]
    assert "crop_grid" not in ds.info and "crop_grid" not in catalog.load("faces", tmp_path / "cache").info
    catalog.import_dataset("folder", tmp_path / "src", name="faces", data_dir=tmp_path / "cache",
                           size=32, force=True)
    assert not grid_file.exists()  # a grid never outlives the crops it shows


def test_crop_faces_needs_a_size(tmp_path: Path) -> None:
    _faces_folder(tmp_path)
    with pytest.raises(ConfigError, match="--crop-faces needs a target size"):
        folder.load(tmp_path, crop_faces=True)


# --------------------------------------------------------------------------- the real FER2013
def _real_fer2013() -> Path:
    env = os.environ.get("FER_BENCH_FER2013")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


def test_real_fer2013_official_split_and_counts() -> None:
    root = _real_fer2013()
    if not (root / "train").is_dir():
        pytest.skip(f"real FER2013 not found at {root} (set FER_BENCH_FER2013)")
    ds = fer2013.load(root)
    assert len(ds) == 35887 and ds.image_size == (48, 48) and ds.subjects is None
    split = ds.meta["split"]
    assert {s: int((split == s).sum()) for s in fer2013.SPLITS} == {
        "Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    wanted = {"angry": (3995, 958), "disgust": (436, 111), "fear": (4097, 1024), "happy": (7215, 1774),
              "neutral": (4965, 1233), "sad": (4830, 1247), "surprise": (3171, 831)}
    names = np.array(EMOTIONS)[ds.labels]
    train = split == "Training"
    got = {c: (int((train & (names == c)).sum()), int((~train & (names == c)).sum())) for c in wanted}
    assert got == wanted
    groups = ds.duplicate_groups()
    assert groups and ds.info["report"]["duplicates"].startswith(f"{len(groups)} groups of byte-identical images")
    assert "span official splits" in ds.info["report"]["duplicates"]


def test_real_jaffe_imports_213_images_of_10_subjects_and_its_faces_are_found() -> None:
    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "jaffe"
    if not root.is_dir():
        pytest.skip(f"{root} is absent (shared data: JAFFE)")
    ds = jaffe.load(root, size=96, crop_faces=True)
    assert len(ds) == 213 and len(ds.subject_counts()) == 10
    found = int(ds.info["report"]["faces"].split()[3])
    assert found >= 0.95 * 213, ds.info["report"]["faces"]  # the frontal Haar cascade finds nearly every face
