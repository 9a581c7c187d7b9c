"""Statistics behind the leaderboard's "95% CI" and "p vs #1" columns and the protocol-inflation lines.

Everything here is plain numpy/scipy on numbers the run folders already hold; no randomness is unseeded, so
the same run folders always render the same bytes.

Definitions (the leaderboard's notes repeat them in one line each):

- Mean ± standard deviation over folds: sample standard deviation (``ddof=1``).
- 95% CI over folds (CV, repeated hold-outs): Student t, ``mean ± t_{0.975, k-1} · s / sqrt(k)``
  (``scipy.stats.t.interval``), clipped to [0, 1] for accuracies. The folds of a k-fold CV share training
  data, so this interval is optimistic; it is what papers report and is labelled so.
- 95% CI for a single split: percentile bootstrap over the test samples (``scipy.stats.bootstrap``, 2000
  resamples from ``numpy.random.default_rng(0)``).
- Top model vs another on one split: McNemar's test on the per-sample predictions, exact two-sided binomial
  test on the discordant pairs (b = only A correct, c = only B correct; p = binomtest(min(b, c), b + c, 0.5)).
  ``exact=False`` gives the chi-square version with continuity correction, (|b - c| - 1)^2 / (b + c), 1 dof.
- Top model vs another over paired folds: the corrected resampled t-test of Nadeau & Bengio (2003):
  ``t = mean(d) / sqrt((1/k + n_test/n_train) · var(d))`` with d the per-fold score differences, ``var`` with
  ``ddof=1``, and k - 1 degrees of freedom. The ``n_test/n_train`` term accounts for the overlap between the
  folds' training sets that makes the plain paired t-test far too liberal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

ACCURACY_RANGE = (0.0, 1.0)
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
_BOOTSTRAP_CHUNK = 250  # resamples drawn at once: bounds memory at chunk x n_test indices


def mean_std(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; nan for a single value)."""
    v = _finite(values)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def t_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95,
               bounds: tuple[float, float] | None = None) -> tuple[float, float]:
    """Student-t confidence interval of the mean over folds; (nan, nan) with fewer than two folds.

    ``bounds`` clips it to the values the score can take (accuracy: (0, 1)): with few, spread folds the t
    interval reaches past them, and no accuracy lies below 0 or above 1."""
    v = _finite(values)
    if len(v) < 2:
        return math.nan, math.nan
    m, s = float(v.mean()), float(v.std(ddof=1))
    if s == 0:
        return m, m  # scipy answers nan for a zero scale; equal folds have a zero-width interval
    lo, hi = stats.t.interval(confidence, len(v) - 1, loc=m, scale=s / math.sqrt(len(v)))
    if bounds is not None:
        lo, hi = max(float(lo), bounds[0]), min(float(hi), bounds[1])
    return float(lo), float(hi)


def bootstrap_interval(sample_scores: Sequence[float] | np.ndarray, confidence: float = 0.95,
                       n_resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-sample scores (1/0 correctness gives accuracy).

    ``scipy.stats.bootstrap(method="percentile")``: test samples are resampled with replacement
    ``n_resamples`` times from ``numpy.random.default_rng(seed)``, and the interval is the linear-interpolated
    quantiles of the resampled means, so it is the same on every call with the same input (same order).
    """
    v = np.asarray(sample_scores, dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    if len(v) == 1:
        return float(v[0]), float(v[0])  # scipy refuses one observation; every resample is that one value
    res = stats.bootstrap((v,), np.mean, n_resamples=n_resamples, batch=_BOOTSTRAP_CHUNK, vectorized=True,
                          confidence_level=confidence, method="percentile", rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class Comparison:
    """A two-sided test of "model A and model B score the same"; ``statistic`` is the test's own statistic."""

    test: str
    statistic: float
    p_value: float
    detail: str


def mcnemar(correct_a: Sequence[bool] | np.ndarray, correct_b: Sequence[bool] | np.ndarray,
            exact: bool = True) -> Comparison:
    """McNemar's test on paired per-sample correctness of two models on the same test samples."""
    a = np.asarray(correct_a, dtype=bool)
    b_ = np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape:
        raise ValueError(f"McNemar needs the same test samples for both models ({a.shape} vs {b_.shape})")
    b = int(np.sum(a & ~b_))  # only A correct
    c = int(np.sum(~a & b_))  # only B correct
    detail = f"b={b}, c={c}"
    if b + c == 0:
        # No discordant pair: the two models agree on every sample, nothing to tell them apart.
        return Comparison("mcnemar-exact" if exact else "mcnemar-chi2", 0.0, 1.0, detail)
    if exact:
        p = stats.binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue
        return Comparison("mcnemar-exact", float(min(b, c)), float(min(1.0, p)), detail)
    chi2 = (abs(b - c) - 1) ** 2 / (b + c)
    return Comparison("mcnemar-chi2", float(chi2), float(stats.chi2.sf(chi2, 1)), detail)


def corrected_resampled_ttest(scores_a: Sequence[float] | np.ndarray, scores_b: Sequence[float] | np.ndarray,
                              n_train: float, n_test: float) -> Comparison:
    """Nadeau & Bengio's corrected resampled t-test on paired per-fold scores (two-sided, k - 1 dof).

    ``n_train`` and ``n_test`` are the (mean) training and test set sizes of a fold. With zero variance of the
    differences the statistic is infinite (p = 0) unless every difference is zero (p = 1).
    """
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"the corrected t-test needs paired per-fold scores ({a.shape} vs {b.shape})")
    k = len(a)
    if k < 2:
        raise ValueError("the corrected resampled t-test needs at least two folds")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"fold sizes must be positive (n_train={n_train}, n_test={n_test})")
    d = a - b
    mean, var = float(d.mean()), float(d.var(ddof=1))
    detail = f"k={k}, n_test/n_train={n_test / n_train:.3g}"
    if np.ptp(d) <= 1e-12:  # equal differences up to float noise (0.8 - 0.7 != 0.7 - 0.6 in binary)
        if abs(mean) <= 1e-12:
            return Comparison("corrected-t", 0.0, 1.0, detail)
        return Comparison("corrected-t", math.copysign(math.inf, mean), 0.0, detail)
    t = mean / math.sqrt((1 / k + n_test / n_train) * var)
    p = 2 * float(stats.t.sf(abs(t), k - 1))
    return Comparison("corrected-t", t, p, detail)


def format_p(p: float, alpha: float = 0.05) -> str:
    """'0.012*' style: three decimals, '<0.001' below that, '*' marks p < alpha."""
    if p is None or not math.isfinite(p):
        return "—"
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    return text + ("*" if p < alpha else "")


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    return v[np.isfinite(v)]
