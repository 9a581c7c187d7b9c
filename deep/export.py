"""A trained ``DeepClassifier`` as an ONNX graph, with fer-bench's evaluation preprocessing inside.

The graph takes what ``bench eval`` and ``bench predict`` feed every model: float32 ``(N, 1, H, W)`` gray pixel
values 0-255 at the size of the images the model was trained on. Inside, it does exactly what
``DeepClassifier.predict_proba`` does to one view: ``x / 255``, the centre crop of the training crop fraction
(if any), the bilinear resize to the network's input size (antialiased when shrinking), ``(x - mean) / std``,
the network, and a softmax; its output is the probabilities in the model's label order. Test-time
augmentation (TenCrop, flip) is not part of the graph: it scores the single centre view.

torch's dynamo exporter (``torch.onnx.export(dynamo=True)``, with onnxscript) writes it, offline. The resize is
written as two matrix products (bilinear resizing is linear and separable), so the graph needs no ONNX Resize
with antialias, which older exporters cannot write.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bench.core.errors import ConfigError
from deep.augment import crop_size, eval_views
from deep.config import TrainConfig
from deep.estimator import DeepClassifier
from deep.nets.base import FERNet
from deep.train import Runtime, image_tensor, predict_proba

# Exported and native probabilities must agree to this on a check batch, or the file is not written.
TOLERANCE = 1e-4


class ScoringGraph(nn.Module):
    """0-255 pixels (N, 1, H, W) -> probabilities (N, K), through fer-bench's single-view evaluation path."""

    def __init__(self, net: FERNet, cfg: TrainConfig, image_size: tuple[int, int]) -> None:
        super().__init__()
        self.net = net
        self.cfg = cfg
        self.rt = Runtime(torch.device("cpu"), None, False)
        side = crop_size(min(image_size), cfg.augment.crop_fraction)
        h, w = (side, side) if side < min(image_size) else image_size
        size = net.spec.input_size
        # The (antialiased) bilinear resize is linear and separable: rows @ x @ cols. As two matrix products it
        # exports with any exporter and opset, where ONNX Resize with antialias needs recent exporters. Both are
        # right-hand factors (x @ M), which need no broadcast over the dynamic batch dimension.
        shrink = size < min(h, w)
        self.register_buffer("rows", _resize_matrix(h, size, shrink).T.contiguous(), persistent=False)
        self.register_buffer("cols", _resize_matrix(w, size, shrink).T.contiguous(), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        view = eval_views(x / 255.0, self.cfg.augment, "none")[0]
        view = ((view @ self.cols).transpose(-1, -2) @ self.rows).transpose(-1, -2)
        spec = self.net.spec
        return self.net((view - spec.mean) / spec.std).float().softmax(-1)


def _resize_matrix(n: int, size: int, antialias: bool) -> Tensor:
    """(size, n): the bilinear resize of one axis from n to size samples, as ``deep.augment.resize`` does it."""
    eye = torch.eye(n)[None, None]
    return nn.functional.interpolate(eye, size=(size, n), mode="bilinear", align_corners=False,
                                      antialias=antialias)[0, 0]


def preprocessing(est: DeepClassifier, image_size: tuple[int, int]) -> str:
    """What the graph does to its input, in one line (written into the file's metadata)."""
    cfg, spec = est.config_, est.net_.spec
    side = min(image_size)
    crop = crop_size(side, cfg.augment.crop_fraction)
    steps = ["x / 255"]
    if crop < side:
        steps.append(f"centre crop {crop}x{crop}")
    steps.append(f"bilinear resize to {spec.input_size}x{spec.input_size}"
                 + (" (antialiased)" if spec.input_size < crop else ""))
    steps += [f"(x - {spec.mean:g}) / {spec.std:g}", "network", "softmax"]
    return ", ".join(steps)


def export_onnx(est: DeepClassifier, image_size: tuple[int, int], metadata: dict[str, str]) -> tuple[bytes, float]:
    """The ONNX file of ``est`` for images of ``image_size`` (H, W), with ``metadata`` in its ``metadata_props``;
    and the largest difference from ``est``'s own single-view probabilities on a check batch."""
    import onnxruntime as ort

    net = copy.deepcopy(est.net_).cpu().float().to(memory_format=torch.contiguous_format).eval()
    graph = ScoringGraph(net, est.config_, image_size).eval()
    h, w = image_size
    check = np.random.default_rng(0).integers(0, 256, (8, h, w), dtype=np.uint8)
    example = torch.from_numpy(check[:2]).float().unsqueeze(1)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(graph, (example,), dynamo=True, input_names=["image"],
                                        output_names=["probabilities"], verbose=False,
                                        dynamic_shapes=({0: torch.export.Dim("batch")},))
        except Exception as exc:  # noqa: BLE001 - the exporter fails in many ways on unusual graphs
            raise ConfigError(f"{est.arch} could not be exported to ONNX ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:200]})") from None
    proto = program.model_proto
    for key, value in sorted(metadata.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    data = proto.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    exported = session.run(None, {"image": check.astype(np.float32)[:, None]})[0]
    own = predict_proba(net, image_tensor(check, torch.device("cpu")), est.config_, graph.rt, tta="none").numpy()
    diff = float(np.abs(exported - own).max())
    if not diff <= TOLERANCE:
        raise ConfigError(f"{est.arch}: the exported graph's probabilities differ from fer-bench's by {diff:.2g} "
                          f"(more than {TOLERANCE:g}); not written")
    return data, diff


def describe(est: DeepClassifier) -> dict[str, Any]:
    """The network's input facts for the metadata."""
    spec = est.net_.spec
    return {"net_input_size": spec.input_size, "normalisation_mean": spec.mean, "normalisation_std": spec.std,
            "tta": est.config_.tta}
