"""``bench export RUN --model NAME [--unit UNIT] --format onnx``: a run's saved model as an ONNX file.

A deep model becomes a graph that takes float32 (N, 1, H, W) gray pixel values 0-255 at its training images'
size and returns probabilities, with fer-bench's evaluation preprocessing inside (``deep.export``); its
metadata declares the label order, input size, channels, scaling and the in-graph normalisation, so
``bench eval`` / ``bench predict`` (or anyone's onnxruntime) feed it as fer-bench does. Test-time augmentation
is not included. Classical pipelines are not exported: their feature extractors (HOG, LBP, Gabor, DWT ...) are
scikit-image / OpenCV / NumPy code with no ONNX converter, and they stay ``.skops`` files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.core.errors import ConfigError
from bench.core.files import atomic_write_bytes
from bench.results.folder import RunFolder
from bench.run.onnx_model import META_FORMAT
from bench.run.saved_models import SavedModel, open_model


def export_from_args(args: argparse.Namespace) -> int:
    path = saved_model_file(RunFolder(args.run), args.model, args.unit)
    if path.suffix == ".skops":
        raise ConfigError(f"{args.model} is a classical pipeline: its feature extractor has no ONNX converter, so "
                          f"classical pipelines are exported as .skops files; use {path} as it is (bench eval, "
                          "bench predict, or skops.io.load)")
    saved = open_model(path, device="cpu")
    out = Path(args.out) if args.out else path.with_suffix(".onnx")
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"--out {out}: an ONNX file's name ends in .onnx")
    data, diff, meta = export_deep(saved)
    atomic_write_bytes(out, lambda fh: fh.write(data))
    print(f"wrote {out} ({len(data) / 1e6:.1f} MB): {saved.card.model} from {path}")
    print(f"input 'image': float32 (N, 1, {', '.join(meta['input_size'].split('x'))}) gray pixel values 0-255; "
          "output 'probabilities' "
          f"(N, {len(saved.card.classes)}) in the order {meta['labels']}")
    print(f"inside the graph: {meta['preprocessing']}")
    print(f"test-time augmentation: {meta['tta']}")
    print(f"checked: onnxruntime and fer-bench agree to {diff:.1e} on a batch of 8 images", file=sys.stderr)
    return 0


def saved_model_file(run: RunFolder, model: str, unit: str | None) -> Path:
    """The saved model of one unit of ``model`` in ``run`` (the only one when ``unit`` is None)."""
    if not run.exists():
        raise ConfigError(f"{run.path} is not a run folder (no manifest.json)")
    files = [p for p in run.model_files(model) if p.suffix in (".pt", ".skops")]
    if not files:
        have = sorted(p.name for p in (run.path / "models").iterdir() if p.is_dir()) \
            if (run.path / "models").is_dir() else []
        saved = f"its saved models: {', '.join(have)}" if have else "it has no saved models"
        raise ConfigError(f"{run.path} has no saved model of '{model}' ({saved}); re-run with --save-models")
    if unit is not None:
        chosen = [p for p in files if p.stem == unit]
        if not chosen:
            raise ConfigError(f"{run.path} has no saved {model} model of unit '{unit}'; its units: "
                              f"{', '.join(p.stem for p in files)}")
        return chosen[0]
    if len(files) > 1:
        raise ConfigError(f"{run.path} has {len(files)} saved {model} models ({', '.join(p.stem for p in files)}); "
                          "choose one with --unit")
    return files[0]


def export_deep(saved: SavedModel) -> tuple[bytes, float, dict[str, str]]:
    """The ONNX bytes of a deep model, the check difference and the metadata written into it."""
    from deep import export  # torch only when a deep model is exported

    card, est = saved.card, saved.estimator
    facts = export.describe(est)
    h, w = card.image_size
    tta = facts["tta"]
    meta = {
        "format": META_FORMAT, "model": card.model, "labels": ",".join(card.class_names),
        "input_size": f"{h}x{w}", "channels": "1", "scale": "0-255", "layout": "nchw", "outputs": "probabilities",
        "preprocessing": export.preprocessing(est, (h, w)),
        "normalisation_mean": f"{facts['normalisation_mean']:g}", "normalisation_std": f"{facts['normalisation_std']:g}",
        "net_input_size": str(facts["net_input_size"]),
        "tta": ("none: one centre view, as the model was scored" if tta == "none" else
                f"not included: fer-bench averaged {tta} views; this graph scores the single centre view"),
        "trained_on": json.dumps(card.trained_on, sort_keys=True, default=str),
        "source": str(saved.path), "fer_bench": card.fer_bench,
    }
    data, diff = export.export_onnx(est, (h, w), meta)
    return data, diff, meta
