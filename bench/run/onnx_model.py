"""ONNX models from any framework, scored by onnxruntime on the CPU like any fer-bench model.

An ONNX graph says nothing about the pixels it expects, so the model declares it in its metadata
(``metadata_props``, as ``bench export`` writes them) or the command line says it:

- ``input_size``: ``48`` or ``HxW``, the side(s) of its input; images are resized to it;
- ``channels``: 1 (gray) or 3 (the gray image repeated, as an RGB network sees a gray photo);
- ``scale``: ``0-1`` (pixel / 255), ``0-255`` (pixel values as they are) or ``imagenet`` (pixel / 255, then
  ImageNet's mean and std per channel); ``mean`` / ``std`` (one value or one per channel), when declared,
  normalise after the scaling;
- ``layout``: ``nchw`` (PyTorch's) or ``nhwc`` (Keras'); guessed from the graph's input shape when it can be;
- ``labels``: the emotion of each output column, in order, e.g. ``angry,disgust,fear,happy,sad,surprise,neutral``;
- ``outputs``: ``probabilities`` or ``logits`` (a softmax is applied); undeclared, rows that are already
  probabilities are taken as they are.

What the graph itself fixes (a static input size or channel count) must agree with what is declared.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.emotions import ALIASES, EMOTIONS, INDEX
from bench.core.errors import ConfigError

META_FORMAT = "fer-bench-onnx/1"
SCALES = ("0-1", "0-255", "imagenet")
LAYOUTS = ("nchw", "nhwc")
OUTPUTS = ("probabilities", "logits")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
           "tensor(uint8)": np.uint8}
BATCH = 256


# ---------------------------------------------------------------------- what is declared
def parse_size(text: str, where: str) -> tuple[int, int]:
    """``48`` -> (48, 48); ``48x64`` -> (48, 64) as (H, W)."""
    parts = str(text).lower().replace(" ", "").split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) not in (1, 2) or min(size) < 1:
        raise ConfigError(f"{where} '{text}' is not an image size; give N or HxW, e.g. 48 or 48x48")
    return (size[0], size[-1])


def parse_labels(text: str, where: str) -> tuple[int, ...]:
    """Comma-separated emotion names (any common spelling) as canonical indices, in the order given."""
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    out = []
    for name in names:
        key = name.lower()
        if key not in ALIASES:
            raise ConfigError(f"{where} names '{name}', which is not an emotion; name each output column with one "
                              f"of {', '.join(EMOTIONS)}, in the model's output order")
        out.append(INDEX[ALIASES[key]])
    if len(out) < 2:
        raise ConfigError(f"{where} '{text}' names {len(out)} class; a classifier has at least two")
    twice = sorted({EMOTIONS[c] for c in out if out.count(c) > 1})
    if twice:
        raise ConfigError(f"{where} names {', '.join(twice)} twice; each output column is one emotion")
    return tuple(out)


def _floats(text: str, where: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        values = ()
    if not values:
        raise ConfigError(f"{where} '{text}' must be one number or one per channel, comma-separated")
    return values


def _choice(text: str, choices: tuple[str, ...], where: str) -> str:
    value = str(text).strip().lower()
    if value not in choices:
        raise ConfigError(f"{where} '{text}' is not one of {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class OnnxInput:
    """What is known about an ONNX model's input and outputs (None: not declared)."""

    input_size: tuple[int, int] | None = None
    channels: int | None = None
    scale: str | None = None
    layout: str | None = None
    labels: tuple[int, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    outputs: str | None = None

    @classmethod
    def from_options(cls, *, input_size: str | None = None, channels: int | str | None = None,
                     scale: str | None = None, layout: str | None = None, labels: str | None = None) -> OnnxInput:
        """From the command line's ``--input-size``, ``--channels``, ``--scale``, ``--layout``, ``--labels``."""
        return cls(input_size=None if input_size is None else parse_size(input_size, "--input-size"),
                   channels=None if channels is None else _channels(channels, "--channels"),
                   scale=None if scale is None else _choice(scale, SCALES, "--scale"),
                   layout=None if layout is None else _choice(layout, LAYOUTS, "--layout"),
                   labels=None if labels is None else parse_labels(labels, "--labels"))

    @classmethod
    def from_metadata(cls, meta: dict[str, str], path: Path) -> OnnxInput:
        def where(key: str) -> str:
            return f"{path}: metadata '{key}'"

        get = meta.get
        return cls(
            input_size=parse_size(get("input_size"), where("input_size")) if get("input_size") else None,
            channels=_channels(get("channels"), where("channels")) if get("channels") else None,
            scale=_choice(get("scale"), SCALES, where("scale")) if get("scale") else None,
            layout=_choice(get("layout"), LAYOUTS, where("layout")) if get("layout") else None,
            labels=parse_labels(get("labels"), where("labels")) if get("labels") else None,
            mean=_floats(get("mean"), where("mean")) if get("mean") else None,
            std=_floats(get("std"), where("std")) if get("std") else None,
            outputs=_choice(get("outputs"), OUTPUTS, where("outputs")) if get("outputs") else None)

    def over(self, declared: OnnxInput) -> OnnxInput:
        """These values where given, ``declared``'s elsewhere."""
        return replace(declared, **{f.name: getattr(self, f.name) for f in fields(self)
                                    if getattr(self, f.name) is not None})


def _channels(value: Any, where: str) -> int:
    if str(value).strip() not in ("1", "3"):
        raise ConfigError(f"{where} '{value}' must be 1 (gray) or 3 (RGB)")
    return int(value)


# ---------------------------------------------------------------------- the model
class OnnxClassifier:
    """``predict_proba`` of uint8 (N, H, W) images at the declared input size, through onnxruntime."""

    def __init__(self, session: Any, spec: OnnxInput, input_name: str, dtype: Any, rank: int) -> None:
        self.session = session
        self.spec = spec
        self.input_name = input_name
        self.dtype = dtype
        self.rank = rank
        self.classes_ = np.asarray(spec.labels, dtype=np.int64)

    def _feed(self, images: np.ndarray) -> np.ndarray:
        """The graph's input: scaled, normalised, with its channels and layout."""
        spec = self.spec
        if self.dtype == np.uint8:
            x: np.ndarray = images
        else:
            x = images.astype(np.float32)
            if spec.scale in ("0-1", "imagenet"):
                x = x / np.float32(255.0)
        x = x[:, None] if self.rank == 4 else x  # (N, 1, H, W)
        if spec.channels == 3:
            x = np.repeat(x, 3, axis=1)
        mean, std = spec.mean, spec.std
        if spec.scale == "imagenet" and mean is None:
            mean = IMAGENET_MEAN if spec.channels == 3 else (float(np.mean(IMAGENET_MEAN)),)
            std = IMAGENET_STD if spec.channels == 3 else (float(np.mean(IMAGENET_STD)),)
        if mean is not None:
            shape = (1, -1, 1, 1) if self.rank == 4 else (1, 1, 1)
            x = (x - np.asarray(mean, dtype=np.float32).reshape(shape)) / np.asarray(
                std or (1.0,), dtype=np.float32).reshape(shape)
        if self.rank == 4 and spec.layout == "nhwc":
            x = x.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(x, dtype=self.dtype)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        h, w = self.spec.input_size  # type: ignore[misc]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (h, w):
            raise ConfigError(f"images must be uint8 (N, {h}, {w}) for this ONNX model, got {images.dtype} "
                              f"{images.shape}")
        out = []
        for start in range(0, len(images), BATCH):
            scores = self.session.run(None, {self.input_name: self._feed(images[start:start + BATCH])})[0]
            scores = np.asarray(scores, dtype=np.float64).reshape(len(images[start:start + BATCH]), -1)
            if scores.shape[1] != len(self.classes_):
                raise ConfigError(f"the ONNX model outputs {scores.shape[1]} scores per image but its label order "
                                  f"names {len(self.classes_)} classes; fix --labels")
            out.append(scores)
        scores = np.concatenate(out) if out else np.zeros((0, len(self.classes_)))
        probabilities = self.spec.outputs == "probabilities" or (
            self.spec.outputs is None and len(scores) and scores.min() >= 0
            and np.allclose(scores.sum(axis=1), 1.0, atol=1e-3))
        if probabilities:
            return scores
        z = np.exp(scores - scores.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def session(path: Path) -> Any:
    """An onnxruntime CPU session; one line naming the file when the graph is not valid ONNX."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit():  # --threads caps onnxruntime's pool as it caps torch's
        options.intra_op_num_threads = int(threads)
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types for broken graphs
        msg = " ".join(str(exc).split())
        raise ConfigError(f"{path} is not a valid ONNX graph (onnxruntime: {msg[:200]})") from None


def open_onnx(path: Path, given: OnnxInput | None = None) -> tuple[OnnxClassifier, dict[str, Any]]:
    """The model, with the input its metadata declares overridden by ``given`` and checked against what the
    graph fixes; and what the metadata says of it (model name, training data, fer-bench version)."""
    sess = session(path)
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    given = given or OnnxInput()
    spec = given.over(OnnxInput.from_metadata(meta, path))

    def said(name: str) -> str:
        return f"--{name.replace('_', '-')} says" if getattr(given, name) is not None else "its metadata declares"

    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise ConfigError(f"{path} takes {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); fer-bench "
                          "feeds a model one image batch")
    inp = inputs[0]
    dtype = _DTYPES.get(inp.type)
    if dtype is None:
        raise ConfigError(f"{path}: its input '{inp.name}' is {inp.type}; fer-bench feeds float or uint8 images")
    dims = [d if isinstance(d, int) and d > 0 else None for d in inp.shape]
    rank = len(dims)
    if rank not in (3, 4):
        raise ConfigError(f"{path}: its input '{inp.name}' has shape {inp.shape}; fer-bench feeds image batches "
                          "(N, C, H, W), (N, H, W, C) or (N, H, W)")
    layout = spec.layout
    if rank == 4:
        if layout is None:
            first, last = dims[1] in (1, 3), dims[3] in (1, 3)
            layout = "nhwc" if last and not first else "nchw"
        c_dim, h_dim, w_dim = (dims[1], dims[2], dims[3]) if layout == "nchw" else (dims[3], dims[1], dims[2])
    else:
        layout, c_dim, (h_dim, w_dim) = None, 1, (dims[1], dims[2])
    spec = replace(spec, layout=layout)
    if spec.channels is not None and c_dim is not None and spec.channels != c_dim:
        raise ConfigError(f"{path}: its input {inp.shape} ({layout or 'nhw'}) has {c_dim} channel(s) but "
                          f"{said('channels')} {spec.channels}; fix --channels or the model's 'channels' metadata")
    spec = replace(spec, channels=spec.channels or c_dim)
    if spec.channels is None:
        raise ConfigError(f"{path}: its input {inp.shape} does not fix the number of channels; give --channels 1|3")
    if spec.input_size is not None and (h_dim, w_dim) != (None, None) and (
            (h_dim is not None and h_dim != spec.input_size[0]) or (w_dim is not None and w_dim != spec.input_size[1])):
        raise ConfigError(f"{path}: its input {inp.shape} is {h_dim}x{w_dim} but {said('input_size')} "
                          f"{spec.input_size[0]}x{spec.input_size[1]}; fix --input-size or the model's 'input_size' "
                          "metadata")
    if spec.input_size is None:
        if h_dim is None or w_dim is None:
            raise ConfigError(f"{path}: its input {inp.shape} does not fix the image size; give --input-size N")
        spec = replace(spec, input_size=(h_dim, w_dim))
    if dtype == np.uint8:
        if spec.scale not in (None, "0-255") or spec.mean is not None:
            raise ConfigError(f"{path} takes uint8 pixels; --scale {spec.scale} cannot be fed to it")
        spec = replace(spec, scale="0-255")
    if spec.scale is None:
        raise ConfigError(f"{path} does not declare its pixel scaling; give --scale 0-1, 0-255 or imagenet")
    if spec.labels is None:
        raise ConfigError(f"{path} does not declare its label order; give --labels with the emotion of each output "
                          f"column, e.g. --labels {','.join(EMOTIONS[:7])}")
    for key, values in (("mean", spec.mean), ("std", spec.std)):
        if values is not None and len(values) not in (1, spec.channels):
            raise ConfigError(f"{path}: metadata '{key}' has {len(values)} values for {spec.channels} channel(s)")
    out_dims = sess.get_outputs()[0].shape
    k = out_dims[-1] if out_dims and isinstance(out_dims[-1], int) else None
    if k is not None and k != len(spec.labels):
        raise ConfigError(f"{path} outputs {k} scores per image but {said('labels')} {len(spec.labels)} labels; the "
                          "label order must name every output column")
    try:
        trained_on = json.loads(meta["trained_on"]) if meta.get("trained_on") else {}
    except json.JSONDecodeError:
        trained_on = {"note": meta["trained_on"]}
    about = {"model": meta.get("model") or path.stem, "trained_on": trained_on if isinstance(trained_on, dict) else {},
             "fer_bench": meta.get("fer_bench", "elsewhere")}
    return OnnxClassifier(sess, spec, inp.name, dtype, rank), about
