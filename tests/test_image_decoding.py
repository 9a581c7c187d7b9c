"""Reading image files into the canonical uint8 grayscale: pixel values scaled by the file's real depth, sizes
checked before decoding, images shrunk as they are read, and file names every later step can write."""

from __future__ import annotations

import os
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import error_line, run
from PIL import Image

from bench.data import catalog, images
from bench.data.importers import folder


def _gray8(root: Path, cls: str, name: str, side: int = 32, value: int = 100) -> Path:
    path = root / cls / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((side, side), value, np.uint8)).save(path)
    return path


# ---------------------------------------------------------------------- item 6: bit depth and value range
def test_twelve_bit_values_in_sixteen_bit_pngs_span_0_to_255(tmp_path):
    values = (np.arange(32 * 32).reshape(32, 32) * 4).astype(np.uint16)  # 0..4092: 12-bit data
    for i in range(3):
        (tmp_path / "happy").mkdir(exist_ok=True)
        Image.fromarray(values).save(tmp_path / "happy" / f"h{i}.png")
    _gray8(tmp_path, "sad", "s0.png")
    ds = folder.load(tmp_path)
    happy = ds.images[np.char.find(ds.files, "happy") >= 0]
    assert happy.max() == 255 and happy.min() == 0
    assert np.array_equal(happy[0], np.rint(values.astype(float) * 255 / 4095).astype(np.uint8))
    assert ds.info["report"]["pixel depth"] == "3 16-bit images with 12-bit values (0..4095) scaled to 0..255"
    sad = ds.images[np.char.find(ds.files, "sad") >= 0]
    assert (sad == 100).all()  # 8-bit images are untouched


def test_float_tiffs_in_0_to_1_are_scaled_and_out_of_range_ones_refused(capsys, tmp_path):
    ramp = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    (tmp_path / "happy").mkdir()
    Image.fromarray(ramp, mode="F").save(tmp_path / "happy" / "f.tif")
    _gray8(tmp_path, "sad", "s0.png")
    ds = folder.load(tmp_path)
    img = ds.images[np.char.find(ds.files, "f.tif") >= 0][0]
    assert np.array_equal(img, np.rint(ramp * 255).astype(np.uint8)) and img.max() == 255
    assert ds.info["report"]["pixel depth"] == "1 float images with values in 0..1 scaled to 0..255"

    Image.fromarray(ramp * 4 - 1, mode="F").save(tmp_path / "happy" / "odd.tif")
    err = error_line(*run(capsys, "data", "import", "folder", tmp_path)[::2])
    assert "odd.tif holds float pixel values outside 0..1 and 0..255 (-1..3)" in err and "--skip-corrupt" in err
    code, out, err = run(capsys, "data", "import", "folder", tmp_path, "--skip-corrupt", "--name", "f2")
    assert code == 0, err
    assert "skipped corrupt: 1 files: happy/odd.tif" in out


# ---------------------------------------------------------------------- item 7: file names
def test_a_file_name_that_is_not_utf8_is_refused_at_import(capsys, tmp_path):
    _gray8(tmp_path, "happy", "ok.png")
    _gray8(tmp_path, "sad", "ok.png")
    bad = os.fsencode(tmp_path / "sad") + b"/caf\xe9.png"
    with open(bad, "wb") as fh:
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(fh, format="PNG")
    err = error_line(*run(capsys, "data", "import", "folder", tmp_path, "--name", "latin")[::2])
    assert "caf\\xe9.png is not valid UTF-8" in err and "rename it" in err
    with pytest.raises(Exception, match="unknown dataset 'latin'"):
        catalog.load("latin")  # nothing was cached that every run would then fail on


# ---------------------------------------------------------------------- item 8: huge images
def _png_claiming(path: Path, width: int, height: int, pad: int = 0) -> None:
    """A PNG whose header says width x height (what a huge file looks like before decoding), ``pad`` bytes of
    text after its header (large files are checked before decoding, small ones after OpenCV declines them)."""
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])))
    text = b"tEXt" + b"Comment\0" + b"x" * pad
    chunk = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", zlib.crc32(text))
    path.write_bytes(bytes(data[:ihdr + 17]) + (chunk if pad else b"") + bytes(data[ihdr + 17:]))


def test_an_image_too_large_to_decode_is_refused_or_skipped(capsys, tmp_path):
    _gray8(tmp_path, "happy", "ok.png")
    _gray8(tmp_path, "sad", "ok.png")
    _png_claiming(tmp_path / "sad" / "big.png", 12000, 10000, pad=40_000)  # above our limit, below Pillow's
    assert (tmp_path / "sad" / "big.png").stat().st_size > images.HEADER_CHECK_BYTES
    _png_claiming(tmp_path / "sad" / "huge.png", 40000, 40000)  # above Pillow's too
    err = error_line(*run(capsys, "data", "import", "folder", tmp_path)[::2])
    assert "sad/big.png is 12000x10000 pixels, more than the 100 megapixels" in err and "--skip-corrupt" in err
    (tmp_path / "sad" / "big.png").unlink()
    err = error_line(*run(capsys, "data", "import", "folder", tmp_path)[::2])
    assert "sad/huge.png is 1600 megapixels, more than the 100 megapixels" in err and "--skip-corrupt" in err
    code, out, err = run(capsys, "data", "import", "folder", tmp_path, "--skip-corrupt")
    assert code == 0, err
    assert "skipped corrupt: 1 files: sad/huge.png" in out


@pytest.mark.parametrize("spec, expect", [("synth-lab:n=2,size=2000", "size must be at most 1024 pixels"),
                                          ("synth-wild:n=100000000,size=1024", "more than half of this machine's")])
def test_synthetic_sizes_are_bounded_before_allocating(capsys, spec, expect):
    err = error_line(*run(capsys, "data", "info", spec)[::2])
    assert expect in err


def test_images_are_resized_as_they_are_decoded(tmp_path):
    side, n = 1200, 24
    ramp = np.add.outer(np.arange(side), np.arange(side)).astype(np.uint8)  # compresses well: quick to write
    for cls in ("happy", "sad"):
        (tmp_path / cls).mkdir()
    for i in range(n):
        Image.fromarray(np.roll(ramp, i, axis=0)).save(tmp_path / ("happy", "sad")[i % 2] / f"{i:02d}.png")
    tracemalloc.start()
    try:
        ds = folder.load(tmp_path, size=48)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ds.images.shape == (n, 48, 48)
    native = n * side * side
    # Holding every image at its native size would take `native` bytes; a few decoding threads hold one each.
    assert peak < native / 3, (peak, native)


# ---------------------------------------------------------------------- decoding by content, one gray for all modes
def _colour_face(side: int = 40) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (side, side, 3), dtype=np.uint8)


def test_a_webp_file_named_jpg_is_decoded_by_its_content(tmp_path):
    rgb = _colour_face()
    Image.fromarray(rgb).save(tmp_path / "real.webp", lossless=True)
    (tmp_path / "looks.jpg").write_bytes((tmp_path / "real.webp").read_bytes())
    as_webp, as_jpg = images.read_gray(tmp_path / "real.webp"), images.read_gray(tmp_path / "looks.jpg")
    np.testing.assert_array_equal(as_jpg, as_webp)
    # lossless WebP keeps the pixels: the gray is the image's own luma, not a JPEG decoder's guess
    assert np.abs(as_jpg.astype(int) - np.asarray(Image.fromarray(rgb).convert("L"))).max() <= 1


@pytest.mark.parametrize("mode", ["RGBA", "P", "LA", "I;16"])
def test_every_pixel_mode_becomes_the_same_8_bit_gray(tmp_path, mode):
    rgb = _colour_face()
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    reference = images.read_gray(tmp_path / "rgb.png")
    if mode == "RGBA":
        im = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)]), "RGBA")
        expect = reference  # alpha is dropped, never blended into the gray
    elif mode == "P":
        im = Image.fromarray(rgb).quantize(colors=256, dither=Image.Dither.NONE)
        expect = images.read_gray(_saved(im.convert("RGB"), tmp_path / "palette-as-rgb.png"))
    elif mode == "LA":
        im = Image.fromarray(np.dstack([reference, np.full(rgb.shape[:2], 7, np.uint8)]), "LA")
        expect = reference
    else:
        im = Image.fromarray(reference.astype(np.uint16) * 257)  # 16-bit: 0..65535 scaled back to 0..255
        expect = reference
    for ext in (".png", ".tiff"):
        got = images.read_gray(_saved(im, tmp_path / f"{mode.replace(';', '')}{ext}"))
        assert got.dtype == np.uint8 and got.shape == reference.shape
        np.testing.assert_array_equal(got, expect)


def _saved(im: Image.Image, path: Path) -> Path:
    im.save(path)
    return path
