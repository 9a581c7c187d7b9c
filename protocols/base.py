"""What a protocol yields: folds of (train, validation, test) indices, in the spirit of scikit-learn splitters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from bench.dataset import FERDataset


@dataclass
class Fold:
    """One unit of evaluation: indices into the dataset given to ``Protocol.split``.

    ``tests`` names every test set the fold is scored on ({"test": test} normally; cross-dataset folds have
    {"source": ..., "target": ...}). ``val`` is always carved out of the fold's training part.
    ``init_from`` names the fold whose trained model initialises this one (deep fine-tuning strategies),
    ``finetune`` which parameters then train ("head", "head+last", "all"); ``families`` lists the model
    families the fold applies to (classical pipelines cannot be fine-tuned).
    """

    id: str
    train: np.ndarray
    val: np.ndarray
    tests: dict[str, np.ndarray]
    variant: str = ""
    init_from: str | None = None
    finetune: str | None = None
    families: tuple[str, ...] = ("classical", "deep")
    info: dict = field(default_factory=dict)

    @property
    def test(self) -> np.ndarray:
        return np.concatenate(list(self.tests.values())) if len(self.tests) > 1 else next(iter(self.tests.values()))


class Protocol(ABC):
    """Base class: ``split(dataset)`` yields Folds; ``get_n_splits(dataset)`` says how many."""

    name: str = ""

    @abstractmethod
    def split(self, dataset: FERDataset) -> Iterator[Fold]:
        ...

    def get_n_splits(self, dataset: FERDataset) -> int:
        return sum(1 for _ in self.split(dataset))

    def config(self) -> dict:
        """The protocol's parameters, stored in the run manifest."""
        return {"name": self.name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}
