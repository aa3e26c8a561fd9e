"""A linear support vector classifier with calibrated probabilities.

Scores come from scikit-learn's LinearSVC (one-vs-rest); each class's score is mapped to
a probability by a sigmoid fitted on cross-validated scores (Platt scaling). Unlike
CalibratedClassifierCV, the probabilities are not normalised across classes (see
`probabilities`). The result is kept as plain arrays (NumPy's .npz, no pickle), so
loading a model runs no code.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

__all__ = ["CalibratedLinear"]

# A sigmoid for a class whose held-out scores say nothing (a handful of examples): a
# margin of 1 (the SVM's own) reads as 88%.
DEFAULT_SLOPE = 2.0

Matrix: TypeAlias = Any  # a NumPy array or a SciPy sparse matrix


def _svc(c: float, seed: int) -> LinearSVC:
    return LinearSVC(C=c, random_state=seed, max_iter=5000)


def _scores(model: LinearSVC, x: Matrix) -> NDArray[Any]:
    scores = np.asarray(model.decision_function(x), dtype=np.float64)
    return scores if scores.ndim == 2 else np.column_stack([-scores, scores])


@dataclass
class CalibratedLinear:
    classes: list[str]
    coef: NDArray[Any]  # (classes, features); one row for two classes, as LinearSVC keeps it
    intercept: NDArray[Any]
    slope: NDArray[Any]  # per class: p = 1 / (1 + exp(-(slope * score + offset)))
    offset: NDArray[Any]

    @classmethod
    def fit(
        cls, x: Matrix, labels: list[str], *, c: float = 0.5, folds: int = 3, seed: int = 42
    ) -> CalibratedLinear:
        classes = sorted(set(labels))
        if len(classes) < 2:  # nothing to choose between: always that class, for sure
            return cls(
                classes,
                np.zeros((1, x.shape[1]), np.float32),
                np.zeros(1),
                np.zeros(1),
                np.full(1, 50.0),
            )
        y = np.array([classes.index(label) for label in labels])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = _svc(c, seed).fit(x, y)
            held_out = cls._held_out_scores(x, y, len(classes), c=c, folds=folds, seed=seed)
        slope = np.ones(len(classes))
        offset = np.zeros(len(classes))
        for k in range(len(classes)):
            target = y == k
            platt = LogisticRegression(C=1e4, max_iter=1000).fit(held_out[:, k : k + 1], target)
            if platt.coef_[0, 0] > 0:
                slope[k], offset[k] = platt.coef_[0, 0], platt.intercept_[0]
            else:  # too few held-out examples to fit (it would reverse the order)
                slope[k], offset[k] = DEFAULT_SLOPE, 0.0
        return cls(
            classes,
            np.asarray(model.coef_, dtype=np.float32),
            np.asarray(model.intercept_, dtype=np.float64),
            slope,
            offset,
        )

    @staticmethod
    def _held_out_scores(
        x: Matrix, y: NDArray[Any], n_classes: int, *, c: float, folds: int, seed: int
    ) -> NDArray[Any]:
        """Every example's scores from a model that did not see it. A class with fewer
        examples than folds is repeated so that every training fold holds it."""
        counts = Counter(y.tolist())
        index = np.arange(len(y))
        repeats = [np.repeat(index[y == k], -(-folds // counts[k])) for k in range(n_classes)]
        rows = np.concatenate(repeats)
        xs, ys = x[rows], y[rows]
        scores = np.zeros((len(rows), n_classes))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for train, test in splitter.split(np.zeros(len(ys)), ys):
            model = _svc(c, seed).fit(xs[train], ys[train])
            scores[test] = _scores(model, xs[test])
        # the first copy of each example stands for it (every example has one)
        _, first = np.unique(rows, return_index=True)
        held_out: NDArray[Any] = scores[first]
        return held_out

    def probabilities(self, x: Matrix) -> NDArray[Any]:
        """(rows, classes): for each class, the calibrated probability that the text
        belongs to it rather than to any other (one against the rest). They are not
        normalised to sum to one: a text unlike every class gets low probabilities for
        all of them, which is what a fallback threshold needs to see (normalised, the
        least unlikely class of an out-of-scope text can still look sure)."""
        if len(self.classes) < 2:
            return np.ones((x.shape[0], 1))
        product: Any = x @ self.coef.T
        dense = product.todense() if scipy.sparse.issparse(product) else product
        raw: NDArray[Any] = np.asarray(dense, dtype=np.float64)
        raw = raw + self.intercept
        scores = raw if raw.shape[1] > 1 else np.column_stack([-raw[:, 0], raw[:, 0]])
        p: NDArray[Any] = 1.0 / (1.0 + np.exp(-(scores * self.slope + self.offset)))
        return p

    def ranking(self, row: NDArray[Any], length: int) -> list[tuple[int, str, float]]:
        """(index, class, probability) for one row of `probabilities`, most probable
        first, ties in class order; at most `length` (0: all)."""
        order = np.argsort(-row, kind="stable")
        chosen = order[:length] if length > 0 else order
        return [(int(k), self.classes[k], float(row[k])) for k in chosen]

    def save(self, directory: Path, name: str) -> None:
        np.savez(
            directory / f"{name}.npz",
            coef=self.coef,
            intercept=self.intercept,
            slope=self.slope,
            offset=self.offset,
        )
        (directory / f"{name}.json").write_text(json.dumps(self.classes), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, name: str) -> CalibratedLinear:
        classes = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
        with np.load(directory / f"{name}.npz", allow_pickle=False) as arrays:
            return cls(
                classes,
                arrays["coef"],
                arrays["intercept"],
                arrays["slope"],
                arrays["offset"],
            )
