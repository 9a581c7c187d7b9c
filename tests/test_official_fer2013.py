"""`bench run --protocol official --dataset fer2013 --model cnn-003` on a small FER2013-format CSV fixture."""

import json

import numpy as np
import pandas as pd

from bench.cli import main
from bench.results.folder import RunFolder

USAGE = {"Training": 6, "PublicTest": 2, "PrivateTest": 3}


def _fer2013_csv(path):
    rng = np.random.default_rng(0)
    rows = []
    for code in range(7):
        for usage, n in USAGE.items():
            for _ in range(n):
                img = rng.integers(0, 256, size=48 * 48)
                rows.append(f"{code},{' '.join(map(str, img))},{usage}")
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    return path


def test_official_split_trains_cnn_003_on_imported_fer2013(tmp_path):
    csv = _fer2013_csv(tmp_path / "fer2013.csv")
    assert main(["data", "import", "fer2013", str(csv)]) == 0
    out = tmp_path / "runs"
    assert main(["run", "--protocol", "official", "--dataset", "fer2013", "--model", "cnn-003", "--out", str(out),
                 "--epochs", "2", "--no-progress"]) == 0
    run = RunFolder(out / "official-fer2013")
    (unit,) = run.read_units()
    assert unit["status"] == "ok" and unit["fold"] == "official"
    # Training -> train, PublicTest -> validation, PrivateTest -> the reported test set
    assert unit["n_train"] == 7 * USAGE["Training"] and unit["n_val"] == 7 * USAGE["PublicTest"]
    assert unit["metrics"]["test"]["n"] == 7 * USAGE["PrivateTest"]
    assert unit["history"] and "val_loss" in unit["history"][0]
    preds = run.read_predictions("cnn-003", "official")
    assert preds.file.str.contains("fer2013.csv#row").all()
    manifest = json.loads(run.manifest_path.read_text())
    assert manifest["protocol"]["name"] == "official"
    assert len(pd.read_csv(run.path / "metrics.csv")) == 1
