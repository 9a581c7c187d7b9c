"""Progress inside a unit: a deep model's epochs (an epoch bar under the unit bar, or one line per epoch with
``--no-progress``), and tuning trials as they finish."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


class EpochProgress:
    """A training callback: epoch k/N, train loss, validation accuracy, images/s and the time left."""

    def __init__(self, label: str, *, bar: bool) -> None:
        self.label = label
        self.bar = bar
        self._tqdm: tqdm | None = None

    def __call__(self, record: dict[str, Any], model: Any = None) -> None:
        total = int(record.get("epochs_total") or 0) or None
        val = record.get("val_acc")
        stats = {"loss": f"{record['train_loss']:.3f}", "val acc": "—" if val is None else f"{val:.3f}",
                 "img/s": f"{record.get('images_per_s', 0):.0f}"}
        if not self.bar:
            line = "  ".join(f"{k} {v}" for k, v in stats.items())
            print(f"{self.label} epoch {record['epoch']}/{total or '?'}  {line}", file=sys.stderr, flush=True)
            return
        if self._tqdm is None:
            self._tqdm = tqdm(total=total, desc=f"  {self.label}", unit="epoch", position=1, leave=False,
                              dynamic_ncols=True, file=sys.stderr, initial=record["epoch"] - 1)
        self._tqdm.set_postfix(stats, refresh=False)
        self._tqdm.update(1)

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
