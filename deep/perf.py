"""Training throughput: fer-bench's batched tensor pipeline vs the per-sample PIL + DataLoader pipeline.

The pipelines feed the same model (same seed, optimiser) from the same random uint8 images with the same
augmentation, random crop (44 of 48) + horizontal flip, in the same process. The PIL pipeline is the way
popular FER2013 PyTorch repositories do it: ``Image.fromarray`` per sample in ``__getitem__`` and
``transforms.Compose([RandomCrop(44), RandomHorizontalFlip(), ToTensor()])``, batched by a DataLoader.

Three figures: ``batched`` (fer-bench: tensor batches, the device's default AMP and channels-last),
``pil`` (the PIL data path with the same arithmetic: isolates the data path), and ``pil_fp32`` (the PIL data
path with float32, contiguous NCHW arithmetic, as those repositories train end to end). On CUDA (or with
``compute_bound=True``) a fourth trains on one batch already on the device with no augmentation: the bound
that data preparation can at best reach.

Measured on the 2-core CPU this was written on, the data path is not the bottleneck: PIL transforms run at
~26k images/s against ~350 images/s of cnn-003 training, so ``batched / pil`` is ~1.0-1.1 and the CPU gain
comes from bf16 autocast + channels-last (``batched / pil_fp32``). On a GPU, training runs at tens of
thousands of 44x44 images/s and the per-sample path becomes the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from deep.augment import AugmentConfig, augment, to_float
from deep.config import TrainConfig
from deep.nets import build_net
from deep.nets.base import FERNet
from deep.train import Runtime, prepare, resolve_runtime


class _PILImages(torch.utils.data.Dataset):
    """uint8 images kept as arrays, converted to PIL and transformed one by one (the common FER2013 repo way)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, crop: int) -> None:
        from torchvision import transforms

        self.images, self.labels = images, labels
        self.transform = transforms.Compose([transforms.RandomCrop(crop), transforms.RandomHorizontalFlip(),
                                             transforms.ToTensor()])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def _batched_stream(images: np.ndarray, labels: np.ndarray, batch_size: int, crop_fraction: float, rt: Runtime,
                    seed: int) -> Iterator[tuple[Tensor, Tensor]]:
    x = torch.from_numpy(images)[:, None].to(rt.device)
    y = torch.from_numpy(labels).to(rt.device)
    gen = torch.Generator(device=rt.device).manual_seed(seed)
    cfg = AugmentConfig(flip=True, crop_fraction=crop_fraction)
    while True:
        order = torch.randperm(len(y), generator=gen, device=rt.device)
        for s in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[s:s + batch_size]
            yield augment(to_float(x[idx]), cfg, gen), y[idx]


def _pil_stream(images: np.ndarray, labels: np.ndarray, batch_size: int, crop: int, rt: Runtime, seed: int,
                num_workers: int) -> Iterator[tuple[Tensor, Tensor]]:
    loader = torch.utils.data.DataLoader(
        _PILImages(images, labels, crop), batch_size=batch_size, shuffle=True, drop_last=True,
        num_workers=num_workers, persistent_workers=num_workers > 0, pin_memory=rt.device.type == "cuda",
        generator=torch.Generator().manual_seed(seed))
    while True:
        for xb, yb in loader:
            yield xb.to(rt.device, non_blocking=True), yb.to(rt.device, non_blocking=True)


def _step_fn(net: FERNet, rt: Runtime) -> Callable[[Tensor, Tensor], None]:
    """One optimisation step, as ``deep.train`` does it (without augmentation: the stream did that)."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(xb: Tensor, yb: Tensor) -> None:
        with rt.autocast():
            loss = F.cross_entropy(net(prepare(xb, net, rt)).float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _sync(rt: Runtime) -> None:
    if rt.device.type == "cuda":
        torch.cuda.synchronize(rt.device)


def _timed(stream: Iterator[tuple[Tensor, Tensor]], step: Callable[[Tensor, Tensor], None], rt: Runtime,
           seconds: float) -> tuple[int, float]:
    """Images trained and seconds spent in ``seconds`` of training (at least one batch)."""
    _sync(rt)
    t0, n = time.perf_counter(), 0
    while True:
        xb, yb = next(stream)
        step(xb, yb)
        n += len(yb)
        if time.perf_counter() - t0 >= seconds:
            break
    _sync(rt)
    return n, time.perf_counter() - t0


def train_benchmark(model: str = "cnn-003", n_images: int = 4096, batch_size: int = 64, size: int = 48,
                    seconds: float = 20.0, device: str = "auto", num_workers: int = 1, rounds: int = 2,
                    warmup_batches: int = 3, compute_bound: bool | None = None, seed: int = 0,
                    **net_kwargs: Any) -> dict[str, Any]:
    """Training images/second of the batched tensor pipeline and of the PIL + DataLoader pipeline.

    ``model`` is an architecture name (``cnn-003``, ``resnet18`` ...), built from scratch at the crop size
    (44 for 48x48 images); ``net_kwargs`` go to its builder (e.g. ``stem="cifar"``). Each pipeline runs
    ``seconds`` in total, split into ``rounds`` alternating slices so that a change in machine load hits
    both. ``num_workers`` is the DataLoader's (the FER2013 repos use 1). AMP and channels-last follow the
    training defaults for the device (``deep.train.resolve_runtime``); ``pil_fp32`` turns both off.
    """
    rt = resolve_runtime(TrainConfig(), device)
    fp32 = Runtime(rt.device, None, False)
    crop_fraction = 44 / 48
    crop = max(1, round(size * crop_fraction))
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n_images, size, size), dtype=np.uint8)
    labels = rng.integers(0, 7, n_images).astype(np.int64)

    def fresh_step(runtime: Runtime) -> Callable[[Tensor, Tensor], None]:
        torch.manual_seed(seed)
        net = build_net(model, 7, input_size=crop, **net_kwargs).to(runtime.device, memory_format=runtime.memory_format)
        return _step_fn(net.train(), runtime)

    pipelines = {
        "batched": (_batched_stream(images, labels, batch_size, crop_fraction, rt, seed), fresh_step(rt)),
        "pil": (_pil_stream(images, labels, batch_size, crop, rt, seed, num_workers), fresh_step(rt)),
        "pil_fp32": (_pil_stream(images, labels, batch_size, crop, fp32, seed, num_workers), fresh_step(fp32)),
    }
    for stream, step in pipelines.values():
        for _ in range(warmup_batches):
            step(*next(stream))
    totals = {name: [0, 0.0] for name in pipelines}
    for _ in range(rounds):
        for name, (stream, step) in pipelines.items():
            n, dt = _timed(stream, step, rt, seconds / rounds)
            totals[name][0] += n
            totals[name][1] += dt
    rate = {name: n / dt for name, (n, dt) in totals.items()}
    out: dict[str, Any] = {
        "model": model, "device": str(rt.device), "amp": str(rt.amp_dtype).replace("torch.", "") if rt.amp_dtype else None,
        "channels_last": rt.channels_last, "threads": torch.get_num_threads(), "n_images": n_images,
        "batch_size": batch_size, "size": size, "crop": crop, "num_workers": num_workers,
        "batched_images_per_s": rate["batched"], "pil_images_per_s": rate["pil"],
        "pil_fp32_images_per_s": rate["pil_fp32"],
        "speedup": rate["batched"] / rate["pil"], "speedup_vs_fp32_pil": rate["batched"] / rate["pil_fp32"],
        "compute_only_images_per_s": None,
    }
    if compute_bound if compute_bound is not None else rt.device.type == "cuda":
        xb = torch.rand(batch_size, 1, crop, crop, device=rt.device)
        yb = torch.from_numpy(labels[:batch_size]).to(rt.device)
        step = fresh_step(rt)
        for _ in range(warmup_batches):
            step(xb, yb)
        n, dt = _timed(iter(lambda: (xb, yb), None), step, rt, seconds / 2)
        out["compute_only_images_per_s"] = n / dt
    return out
