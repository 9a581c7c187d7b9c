"""Leaderboard statistics against scipy and hand-worked values, and the leaderboard columns built on them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fixtures_runs import fabricate_run
from scipy import stats as sps

from bench.results import stats
from bench.results.folder import RunFolder
from leaderboard.build import render

# ---------------------------------------------------------------------- intervals


def test_mean_std_uses_sample_standard_deviation():
    m, s = stats.mean_std([0.80, 0.82, 0.78, 0.84])
    assert m == pytest.approx(0.81)
    assert s == pytest.approx(np.std([0.80, 0.82, 0.78, 0.84], ddof=1))
    assert math.isnan(stats.mean_std([0.5])[1])


@pytest.mark.parametrize("values", [[0.71, 0.75, 0.69, 0.80, 0.73], [0.5, 0.9], list(np.linspace(0.6, 0.7, 10))])
def test_t_interval_matches_scipy(values):
    v = np.asarray(values)
    expected = sps.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=sps.sem(v))
    assert stats.t_interval(v) == pytest.approx(expected, rel=1e-12)


def test_t_interval_by_hand():
    # mean 0.8, s = 0.1, k = 4: half-width t_{0.975,3} * 0.1 / 2 = 3.182446 * 0.05
    lo, hi = stats.t_interval([0.7, 0.8, 0.9, 0.8 + 0.0])
    s = np.std([0.7, 0.8, 0.9, 0.8], ddof=1)
    assert hi - lo == pytest.approx(2 * 3.182446305284263 * s / 2, rel=1e-9)
    assert all(math.isnan(x) for x in stats.t_interval([0.8]))


def test_bootstrap_is_seeded_and_close_to_its_exact_limit():
    rng = np.random.default_rng(1)
    correct = (rng.random(400) < 0.7).astype(float)
    a, b = stats.bootstrap_interval(correct), stats.bootstrap_interval(correct)
    assert a == b  # same input, same interval, every time
    # For 0/1 scores the bootstrap distribution of the mean is exactly Binomial(n, p_hat) / n.
    n, p = len(correct), correct.mean()
    exact = (sps.binom.ppf(0.025, n, p) / n, sps.binom.ppf(0.975, n, p) / n)
    assert a == pytest.approx(exact, abs=0.01)
    ref = sps.bootstrap((correct,), np.mean, confidence_level=0.95, n_resamples=2000, method="percentile",
                        rng=np.random.default_rng(0)).confidence_interval
    assert a == (ref.low, ref.high)
    assert stats.bootstrap_interval(correct, seed=1) != a  # the seed is what fixes it


def _hand_bootstrap(v: np.ndarray, seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """The loop scipy replaced: 2000 resamples in chunks of 250 from default_rng(seed), linear quantiles."""
    rng = np.random.default_rng(seed)
    means = np.concatenate([v[rng.integers(0, len(v), size=(250, len(v)))].mean(axis=1) for _ in range(8)])
    alpha = (1 - confidence) / 2
    return tuple(np.quantile(means, [alpha, 1 - alpha]))


@pytest.mark.parametrize("n", [2, 40, 251, 1500])
def test_bootstrap_resamples_as_the_hand_written_loop_did(n):
    rng = np.random.default_rng(n)
    for v in ((rng.random(n) < 0.6).astype(float), rng.random(n)):
        # Same resamples; scipy's quantile interpolates with other float steps (at most a few ulps apart).
        assert stats.bootstrap_interval(v) == pytest.approx(_hand_bootstrap(v), rel=1e-14, abs=1e-15)


def test_interval_edge_cases():
    assert stats.t_interval([0.75, 0.75, 0.75]) == (0.75, 0.75)  # scipy's t.interval gives nan at zero scale
    assert all(math.isnan(x) for x in stats.bootstrap_interval([]))
    assert stats.bootstrap_interval([1.0]) == (1.0, 1.0)  # scipy's bootstrap needs two observations
    assert stats.bootstrap_interval(np.ones(30)) == (1.0, 1.0)


# ---------------------------------------------------------------------- McNemar


def _pairs(b: int, c: int, both: int = 30, neither: int = 10) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([1] * b + [0] * c + [1] * both + [0] * neither, dtype=bool)
    bb = np.array([0] * b + [1] * c + [1] * both + [0] * neither, dtype=bool)
    return a, bb


def test_mcnemar_exact_is_binomtest_on_discordant_pairs():
    for b, c in [(10, 2), (7, 7), (0, 5), (25, 40)]:
        res = stats.mcnemar(*_pairs(b, c))
        assert res.test == "mcnemar-exact"
        assert res.p_value == pytest.approx(sps.binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-12)
    # By hand: b=10, c=2 -> 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158 / 4096
    assert stats.mcnemar(*_pairs(10, 2)).p_value == pytest.approx(158 / 4096, rel=1e-12)


def test_mcnemar_chi_square_with_continuity_correction():
    res = stats.mcnemar(*_pairs(10, 2), exact=False)
    assert res.statistic == pytest.approx(49 / 12)  # (|10 - 2| - 1)^2 / 12
    assert res.p_value == pytest.approx(sps.chi2.sf(49 / 12, 1), rel=1e-12)


def test_mcnemar_without_discordant_pairs_is_p_one():
    a = np.array([1, 0, 1], dtype=bool)
    assert stats.mcnemar(a, a).p_value == 1.0


# ---------------------------------------------------------------------- corrected resampled t-test


def test_corrected_resampled_ttest_hand_worked():
    # d = a - b = [0.02, 0.04, 0.03, 0.05, 0.01]: mean 0.03, var (ddof=1) 0.00025; k = 5, n_test/n_train = 0.25
    # t = 0.03 / sqrt((1/5 + 0.25) * 0.00025) = 0.03 / sqrt(0.0001125) = 2 * sqrt(2)
    a = np.array([0.82, 0.84, 0.83, 0.85, 0.81])
    b = a - np.array([0.02, 0.04, 0.03, 0.05, 0.01])
    res = stats.corrected_resampled_ttest(a, b, n_train=800, n_test=200)
    assert res.statistic == pytest.approx(2 * math.sqrt(2), rel=1e-9)
    assert res.p_value == pytest.approx(2 * sps.t.sf(2 * math.sqrt(2), 4), rel=1e-9)
    assert res.p_value == pytest.approx(0.04742, abs=5e-5)
    # The correction matters: the plain paired t-test calls the same folds far more significant.
    plain = sps.ttest_rel(a, b)
    assert plain.statistic == pytest.approx(3 * math.sqrt(2), rel=1e-9)
    assert plain.pvalue < res.p_value / 3


def test_corrected_ttest_edge_cases():
    assert stats.corrected_resampled_ttest([0.8, 0.7], [0.8, 0.7], 100, 10).p_value == 1.0
    assert stats.corrected_resampled_ttest([0.8, 0.7], [0.7, 0.6], 100, 10).p_value == 0.0
    with pytest.raises(ValueError):
        stats.corrected_resampled_ttest([0.8], [0.7], 100, 10)


def test_format_p():
    assert stats.format_p(0.0123) == "0.012*"
    assert stats.format_p(0.0004) == "<0.001*"
    assert stats.format_p(0.5) == "0.500"
    assert stats.format_p(float("nan")) == "—"


# ---------------------------------------------------------------------- leaderboard columns


def _row(board: str, model: str) -> dict[str, str]:
    lines = [ln for ln in board.splitlines() if ln.startswith("|")]
    header = [h.strip() for h in lines[0].strip("|").split("|")]
    for ln in lines[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if cells[header.index("model")] == model:
            return dict(zip(header, cells))
    raise AssertionError(f"{model} not in the table")


def _correct(run_path, model: str, fold: str) -> pd.Series:
    pred = RunFolder(run_path).read_predictions(model, fold)
    return pd.Series((pred.y_true == pred.y_pred).to_numpy(), index=pred["index"]).sort_index()


def test_single_split_columns_are_bootstrap_and_mcnemar(tmp_path):
    run = fabricate_run(tmp_path, "random-x", models={"strong": 2.0, "weak": 0.6}, n_test=150)
    board = render([RunFolder(run)])
    assert "95% CI" in board and "p vs #1" in board and "McNemar's exact binomial" in board
    top, other = _row(board, "strong"), _row(board, "weak")
    assert top["rank"] == "1" and top["p vs #1"] == "—"
    lo, hi = stats.bootstrap_interval(RunFolder(run).read_predictions("strong", "holdout-r0")
                                      .pipe(lambda p: (p.y_true == p.y_pred).to_numpy(dtype=float)))
    assert top["95% CI"] == f"[{100 * lo:.1f}, {100 * hi:.1f}]"
    p = stats.mcnemar(_correct(run, "strong", "holdout-r0"), _correct(run, "weak", "holdout-r0")).p_value
    assert other["p vs #1"] == stats.format_p(p)
    assert other["p vs #1"].endswith("*")  # a skill gap this size on 150 samples is significant
    assert render([RunFolder(run)]) == board  # byte-deterministic


def test_cv_columns_are_t_interval_and_corrected_ttest(tmp_path):
    run = fabricate_run(tmp_path, "kfold-x", protocol="kfold", models={"m1": 1.6, "m2": 1.3}, n_folds=4, n_test=50)
    board = render([RunFolder(run)])
    frame = RunFolder(run).metrics_frame().sort_values("fold")
    acc = {m: g.accuracy.to_numpy() for m, g in frame.groupby("model")}
    top = max(acc, key=lambda m: acc[m].mean())
    other = min(acc, key=lambda m: acc[m].mean())
    lo, hi = sps.t.interval(0.95, 3, loc=acc[top].mean(), scale=sps.sem(acc[top]))
    assert _row(board, top)["95% CI"] == f"[{100 * lo:.1f}, {100 * hi:.1f}]"
    n_train, n_test = 400 + 40, 50  # fold's training part (train + validation) and test set
    d = acc[top] - acc[other]
    t = d.mean() / math.sqrt((1 / 4 + n_test / n_train) * d.var(ddof=1))
    assert _row(board, other)["p vs #1"] == stats.format_p(2 * sps.t.sf(abs(t), 3))


def test_unpaired_runs_get_no_p_value(tmp_path):
    a = fabricate_run(tmp_path, "random-a", models={"strong": 2.0}, n_test=80, seed=0)
    b = fabricate_run(tmp_path, "random-b", models={"weak": 0.5}, n_test=80, seed=1)
    board = render([RunFolder(a), RunFolder(b)])
    assert _row(board, "weak")["p vs #1"] == "—"  # another seed: other splits, nothing to pair


def test_inflation_line_compares_random_and_subject_protocols(tmp_path):
    leaky = fabricate_run(tmp_path, "random-lab", protocol="random", dataset="lab", models={"hog-svm": 2.5})
    honest = fabricate_run(tmp_path, "subject-lab", protocol="subject", dataset="lab", models={"hog-svm": 0.7},
                           n_folds=3, seed=3)
    board = render([RunFolder(leaky), RunFolder(honest)])
    acc_r = RunFolder(leaky).metrics_frame().accuracy.mean()
    acc_s = RunFolder(honest).metrics_frame().accuracy.mean()
    line = (f"- lab: hog-svm: random {100 * acc_r:.1f}% vs subject-disjoint {100 * acc_s:.1f}% "
            f"({100 * (acc_r - acc_s):+.1f} points from identity leakage)")
    assert line in board.splitlines()
    assert board.index("### subject: lab") < board.index("### random: lab") < board.index(line)
