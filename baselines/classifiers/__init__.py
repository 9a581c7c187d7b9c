"""Classifier steps of the classical pipelines, one file each, registered in ``baselines.registry``.

Each exposes ``predict_proba`` and ``classes_`` = the canonical labels it was trained on (which need not be
0..K-1, e.g. {0, 3, 6}) and is seeded. The classes importable from here are the ones fer-bench writes itself;
the others are scikit-learn's own.
"""

from baselines.classifiers.lda import ShrinkageLDA
from baselines.classifiers.margin import CALIBRATIONS, MarginClassifier
from baselines.classifiers.pca import EigenPCA
from baselines.classifiers.rbf import RBFSVM, GramSVC, rbf_gram
from baselines.classifiers.svm import LinearSVM
from baselines.classifiers.xgb import XGBoost

__all__ = ["CALIBRATIONS", "RBFSVM", "EigenPCA", "GramSVC", "LinearSVM", "MarginClassifier", "ShrinkageLDA",
           "XGBoost", "rbf_gram"]
