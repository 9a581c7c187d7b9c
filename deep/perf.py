"""Training throughput: fer-bench's training loop against the per-sample PIL + DataLoader pipeline.

All pipelines train the same architecture (same seed) from the same random uint8 images with the same
augmentation, random crop (44 of 48) + horizontal flip, at the same batch size, in the same process:

- ``fer-bench``: ``deep.train.train_one_epoch`` itself, the loop ``bench run`` uses: the split is one uint8
  tensor on the device, batches are indexed out of it and augmented as tensors, the device's default AMP and
  memory format, the fused optimiser of ``deep.train.make_optimizer``.
- ``reference``: the way popular FER2013 PyTorch repositories train: ``Image.fromarray`` per sample in
  ``__getitem__``, ``transforms.Compose([RandomCrop(44), RandomHorizontalFlip(), ToTensor()])``, a
  DataLoader, float32 NCHW arithmetic, ``torch.optim.Adam`` with its defaults. ``speedup`` is against this
  and is what the targets are about.
- ``pil-same-math``: the reference's data path feeding fer-bench's arithmetic and optimiser, so that
  ``data_path_speedup`` isolates what the tensor data path alone buys.
- ``compute-only``: one batch already on the device, no augmentation, fer-bench's arithmetic: the bound a
  data path can at best reach (``compute_bound_fraction``).

Measured on the 2-core CPU this was written on, the data path is not the bottleneck there (PIL transforms run
at ~26k images/s against ~700 images/s of cnn-003 training), so the CPU gain is mostly bf16 autocast +
channels-last + the fused optimiser. On a GPU, training runs at tens of thousands of 44x44 images/s and the
per-sample path becomes the limit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deep.augment import AugmentConfig
from deep.config import TrainConfig
from deep.nets import build_net
from deep.nets.base import FERNet
from deep.train import Runtime, Split, make_optimizer, prepare, resolve_runtime, train_one_epoch

# Speed-up over the reference pipeline that fer-bench's loop is expected to reach, per device type.
TRAIN_TARGETS: dict[str, dict[str, float]] = {"cpu": {"cnn-003": 2.0, "resnet18": 1.2},
                                              "cuda": {"cnn-003": 5.0, "resnet18": 5.0}}
CROP_FRACTION = 44 / 48

Step = Callable[[Tensor, Tensor], None]
Work = Callable[[], int]  # trains on some images, returns how many


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


def _pil_batches(images: np.ndarray, labels: np.ndarray, batch_size: int, crop: int, rt: Runtime, seed: int,
                 num_workers: int) -> Iterator[tuple[Tensor, Tensor]]:
    loader = torch.utils.data.DataLoader(
        _PILImages(images, labels, crop), batch_size=batch_size, shuffle=True, drop_last=True,
        num_workers=num_workers, persistent_workers=num_workers > 0, pin_memory=rt.device.type == "cuda",
        generator=torch.Generator().manual_seed(seed))
    while True:
        for xb, yb in loader:
            yield xb.to(rt.device, non_blocking=True), yb.to(rt.device, non_blocking=True)


def _step(net: FERNet, rt: Runtime, optimizer: torch.optim.Optimizer) -> Step:
    """One optimisation step on an already augmented batch, as a plain training loop writes it."""

    def step(xb: Tensor, yb: Tensor) -> None:
        with rt.autocast():
            loss = F.cross_entropy(net(prepare(xb, net, rt)).float(), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def _batch_work(batches: Iterator[tuple[Tensor, Tensor]], step: Step) -> Work:
    def work() -> int:
        xb, yb = next(batches)
        step(xb, yb)
        return len(yb)

    return work


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(work: Work, device: torch.device, seconds: float) -> tuple[int, float]:
    """Images trained and seconds spent calling ``work`` for about ``seconds`` (at least once)."""
    _sync(device)
    t0, n = time.perf_counter(), 0
    while True:
        n += work()
        if time.perf_counter() - t0 >= seconds:
            break
    _sync(device)
    return n, time.perf_counter() - t0


def train_benchmark(model: str = "cnn-003", n_images: int = 4096, batch_size: int = 64, size: int = 48,
                    seconds: float = 30.0, device: str = "auto", num_workers: int = 1, rounds: int = 2,
                    warmup_batches: int = 3, compute_bound: bool = True, seed: int = 0, log: Any = None,
                    **net_kwargs: Any) -> dict[str, Any]:
    """Training images/second of fer-bench's loop, of the PIL reference and of the two controls.

    ``model`` is an architecture name (``cnn-003``, ``resnet18`` ...), built from scratch at the crop size
    (44 for 48x48 images); ``net_kwargs`` go to its builder (e.g. ``stem="cifar"``). Each pipeline runs about
    ``seconds / rounds`` per round, pipelines alternating, so a change in machine load hits all of them.
    fer-bench's loop is timed in whole epochs of ``n_images``. ``num_workers`` is the reference DataLoader's
    (the FER2013 repositories use 1). What is being timed is printed to ``log`` as it goes (None: silent).
    """

    def say(text: str) -> None:
        print(f"train {model}: {text}", file=sys.stderr if log is None else log, flush=True)

    rt = resolve_runtime(TrainConfig(), device)
    fp32 = Runtime(rt.device, None, False)
    crop = max(1, round(size * CROP_FRACTION))
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n_images, size, size), dtype=np.uint8)
    labels = rng.integers(0, 7, n_images).astype(np.int64)
    cfg = TrainConfig(batch_size=batch_size, augment=AugmentConfig(flip=True, crop_fraction=CROP_FRACTION))

    def fresh_net(runtime: Runtime) -> FERNet:
        torch.manual_seed(seed)
        net = build_net(model, 7, input_size=crop, **net_kwargs)
        return net.to(runtime.device, memory_format=runtime.memory_format).train()

    def fused_adam(net: FERNet) -> torch.optim.Optimizer:
        return make_optimizer([{"params": list(net.parameters()), "lr": cfg.lr}], cfg)

    def fer_bench_work(n: int) -> Work:
        net, split = fresh_net(rt), Split.from_numpy(images[:n], labels[:n], rt.device)
        opt, criterion = fused_adam(net), nn.CrossEntropyLoss()
        scaler = torch.amp.GradScaler(rt.device.type, enabled=rt.amp_dtype == torch.float16)
        gen = torch.Generator(device=rt.device).manual_seed(seed)

        def epoch() -> int:
            train_one_epoch(net, split, cfg, rt, opt, criterion, scaler, gen, 7)
            return len(split) - (len(split) % batch_size if len(split) % batch_size < 2 else 0)

        return epoch

    say(f"building the pipelines on {n_images:,} images ({rt.device}) and warming them up")
    warm = fer_bench_work(warmup_batches * batch_size)  # first-call allocations and kernel selection
    warm()
    pipelines: dict[str, Work] = {"fer-bench": fer_bench_work(n_images)}
    net = fresh_net(rt)
    pipelines["pil-same-math"] = _batch_work(
        _pil_batches(images, labels, batch_size, crop, rt, seed, num_workers), _step(net, rt, fused_adam(net)))
    net = fresh_net(fp32)
    pipelines["reference"] = _batch_work(
        _pil_batches(images, labels, batch_size, crop, fp32, seed, num_workers),
        _step(net, fp32, torch.optim.Adam(net.parameters(), lr=cfg.lr)))
    if compute_bound:
        xb = torch.rand(batch_size, 1, crop, crop, device=rt.device)
        yb = torch.from_numpy(labels[:batch_size]).to(rt.device)
        net = fresh_net(rt)
        pipelines["compute-only"] = _batch_work(iter(lambda: (xb, yb), None), _step(net, rt, fused_adam(net)))
    for name, work in pipelines.items():
        if name != "fer-bench":
            for _ in range(warmup_batches):
                work()

    totals = {name: [0, 0.0] for name in pipelines}
    for r in range(rounds):
        for name, work in pipelines.items():
            say(f"round {r + 1}/{rounds}, timing {name} for {seconds / rounds:.0f} s")
            n, dt = _timed(work, rt.device, seconds / rounds)
            totals[name][0] += n
            totals[name][1] += dt
            say(f"round {r + 1}/{rounds}, {name}: {n / dt:,.0f} images/s")
    rate = {name: n / dt for name, (n, dt) in totals.items()}
    speedup = rate["fer-bench"] / rate["reference"]
    target = TRAIN_TARGETS.get(rt.device.type, {}).get(model)
    return {
        "model": model, "device": str(rt.device),
        "amp": str(rt.amp_dtype).replace("torch.", "") if rt.amp_dtype else None,
        "channels_last": rt.channels_last, "threads": torch.get_num_threads(), "n_images": n_images,
        "batch_size": batch_size, "crop": crop, "num_workers": num_workers,
        "fer_bench_images_per_s": rate["fer-bench"], "reference_images_per_s": rate["reference"],
        "pil_same_math_images_per_s": rate["pil-same-math"],
        "compute_only_images_per_s": rate.get("compute-only"),
        "speedup": speedup, "target": target, "meets_target": None if target is None else speedup >= target,
        "data_path_speedup": rate["fer-bench"] / rate["pil-same-math"],
        "compute_bound_fraction": rate["fer-bench"] / rate["compute-only"] if "compute-only" in rate else None,
    }
