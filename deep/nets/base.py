"""What every network in ``deep.nets`` is: a body, a head whose last layer is the classifier, and named groups.

The fine-tuning strategies (``deep.finetune``) only talk to this interface, so a new architecture gets
``head``, ``head+last``, ``two-phase`` and ``all`` by defining ``last_block_modules``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass(frozen=True)
class NetSpec:
    """How images reach the network.

    input_size: side of the square input; batches are resized to it on the tensor (``deep.augment``).
    min_size:   the smallest side the architecture accepts (inception_v3 needs 75).
    mean, std:  normalisation of the [0, 1] gray value; ImageNet weights want ImageNet statistics.
    """

    input_size: int = 48
    min_size: int = 16
    mean: float = 0.5
    std: float = 0.5


# ImageNet statistics for a gray image: the mean of the RGB means and stds (timm does the same for 1-channel
# inputs); together with summed first-conv kernels this matches feeding the gray channel three times.
IMAGENET_GRAY = (0.449, 0.226)


class FERNet(nn.Module):
    """``head(body(x))`` for (B, 1, S, S) float input; ``head[-1]`` is the classifier ``nn.Linear``."""

    def __init__(self, body: nn.Module, head: nn.Sequential, spec: NetSpec) -> None:
        super().__init__()
        if not isinstance(head[-1], nn.Linear):
            raise TypeError("a FERNet head must end with its classifier nn.Linear")
        self.body = body
        self.head = head
        self.spec = spec

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))

    @property
    def n_classes(self) -> int:
        return self.head[-1].out_features

    def reset_classifier(self, n_classes: int) -> None:
        """A fresh output layer for another class set; the rest of the head keeps its weights."""
        old = self.head[-1]
        self.head[-1] = nn.Linear(old.in_features, n_classes).to(old.weight.device)

    # ------------------------------------------------------------------ groups for fine-tuning
    def head_modules(self) -> list[nn.Module]:
        """What ``finetune="head"`` trains: all dense layers after the convolutional body (paper 002's "FC")."""
        return [self.head]

    def last_block_modules(self) -> list[nn.Module]:
        """The last convolutional block, trained with the head by ``finetune="head+last"``."""
        raise NotImplementedError(f"{type(self).__name__} does not define its last block")

    def top_layers(self, n: int) -> list[nn.Module]:
        """The last ``n`` parameterised layers (conv, norm, linear) of the body, counted from the output.

        This is how Keras users unfreeze "the top N layers" (paper 004's second phase); registration order
        follows the forward order for every body in ``deep.nets``.
        """
        leaves = [m for m in self.body.modules() if any(True for _ in m.parameters(recurse=False))]
        return leaves[-n:] if n > 0 else []


class SequentialCNN(FERNet):
    """A plain CNN: ``body`` is a sequence of conv units, ``last_block`` of them form the last block."""

    def __init__(self, body: nn.Sequential, head: nn.Sequential, spec: NetSpec, last_block: int = 1) -> None:
        super().__init__(body, head, spec)
        self.last_block = last_block

    def last_block_modules(self) -> list[nn.Module]:
        return list(self.body)[-self.last_block:]


def conv_unit(c_in: int, c_out: int, k: int, *, padding: int | str = 0, bn: bool = False,
              pool: nn.Module | None = None, dropout: float = 0.0) -> nn.Sequential:
    """conv -> [BN] -> ReLU -> [pool] -> [dropout]: one entry of a SequentialCNN body."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=padding, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    if pool is not None:
        layers.append(pool)
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def dense_head(n_in: int, hidden: list[int], n_classes: int, *, dropout: float | list[float] = 0.0,
               bn: bool = False) -> nn.Sequential:
    """Flatten -> (Linear -> [BN] -> ReLU -> [Dropout]) per hidden width -> Linear(n_classes)."""
    drops = dropout if isinstance(dropout, list) else [dropout] * len(hidden)
    layers: list[nn.Module] = [nn.Flatten()]
    for width, p in zip(hidden, drops):
        layers.append(nn.Linear(n_in, width, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU(inplace=True))
        if p > 0:
            layers.append(nn.Dropout(p))
        n_in = width
    layers.append(nn.Linear(n_in, n_classes))
    return nn.Sequential(*layers)


def init_scratch(net: nn.Module) -> None:
    """He init for convs (ReLU nets trained from scratch converge in fewer epochs than with PyTorch's default)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def flat_features(body: nn.Module, size: int) -> int:
    """Number of features ``body`` produces for one (1, size, size) image (to size the first dense layer)."""
    import torch

    from bench.core.errors import ConfigError

    was_training = body.training
    try:
        with torch.no_grad():
            return body.eval()(torch.zeros(1, 1, size, size)).numel()
    except RuntimeError as e:  # a pooling or conv window larger than what is left of the image
        raise ConfigError(f"input_size {size} is too small for this network ({e})") from e
    finally:
        body.train(was_training)

