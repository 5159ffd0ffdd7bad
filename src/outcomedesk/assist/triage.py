"""The triage model: a ticket's text to one field's value (group, category, priority, service), with a
calibrated confidence. Plain scikit-learn and numpy, trained on the organisation's own tickets; no download.

Features: TF-IDF of words and word pairs, and of character 2-5-grams inside words (they hold up against typos,
inflections, German compounds and mojibake). Classifier: a linear SVM, one against the rest. Confidence: the
margin between the best and the second-best score, mapped to the probability that the prediction is right by
an isotonic fit on out-of-fold predictions of the training set. So "0.9" means that about 9 in 10 predictions
with that confidence were right on this organisation's tickets: a threshold on it is a precision target.

This module knows nothing of Django: the production path (training from tickets, the `assist evaluate`
command) and any evaluation run the same `TriageModel`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

VERSION = "triage-svm-1"  # the recipe; a trained model's version adds its training data's fingerprint
FOLDS = 3


class TriageError(ValueError):
    """Training or prediction cannot go on; the message says why, for people."""


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float  # calibrated: the share of predictions like this one that were right
    alternatives: tuple[tuple[str, float], ...]  # the next labels by raw score, with their scaled scores


def features() -> FeatureUnion:
    return FeatureUnion([
        ("words", TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=200_000,
                                  token_pattern=r"(?u)\b\w+\b", strip_accents=None, lowercase=True)),
        ("chars", TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                  max_features=300_000, lowercase=True)),
    ])


def _margins(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the best label and the gap between the best and second-best score, per row."""
    if scores.ndim == 1:  # two classes: one score, its sign picks the label
        return (scores > 0).astype(int), np.abs(scores)
    order = np.argsort(scores, axis=1)
    best, second = order[:, -1], order[:, -2]
    rows = np.arange(scores.shape[0])
    return best, scores[rows, best] - scores[rows, second]


class TriageModel:
    """Fit on texts and labels; predict a label with a calibrated confidence."""

    def __init__(self, c: float = 0.5, seed: int = 0, reweight: bool = True) -> None:
        self.reweight = reweight
        self.c = c
        self.seed = seed
        self.vectorizer: FeatureUnion | None = None
        self.classifier: LinearSVC | None = None
        self.calibration: IsotonicRegression | None = None
        self.classes: list[str] = []
        self.version = VERSION
        self.training: dict[str, Any] = {}

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TriageModel:
        if len(texts) != len(labels):
            raise TriageError(f"{len(texts)} texts but {len(labels)} labels")
        counts = Counter(labels)
        if len(counts) < 2:
            only = next(iter(counts), None)
            raise TriageError(f"the label has one class only ({only!r}): there is nothing to learn"
                              if only is not None else "no training rows")
        if not any(t.strip() for t in texts):
            raise TriageError("every text is empty")
        vectorizer = features()
        matrix = vectorizer.fit_transform(texts)
        target = np.asarray(labels, dtype=object)
        # Rare labels count more, but less than "balanced" would make them: accuracy and macro-F1 both hold.
        top = max(counts.values())
        weights = np.asarray([(top / counts[y]) ** 0.5 for y in labels]) if self.reweight else None
        base = LinearSVC(C=self.c, random_state=self.seed)
        margins, right = [], []
        for train, held in KFold(FOLDS, shuffle=True, random_state=self.seed).split(matrix):
            if len(set(target[train])) < 2:
                continue
            model = clone(base).fit(matrix[train], target[train],
                                    sample_weight=None if weights is None else weights[train])
            best, margin = _margins(model.decision_function(matrix[held]))
            margins.append(margin)
            right.append(model.classes_[best] == target[held])
        calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        if margins:
            calibration.fit(np.concatenate(margins), np.concatenate(right).astype(float))
        else:  # too few rows to hold any out: confidence 0 (never auto-applied)
            calibration.fit([0.0, 1.0], [0.0, 0.0])
        self.vectorizer, self.classifier = vectorizer, base.fit(matrix, target, sample_weight=weights)
        self.calibration = calibration
        self.classes = [str(c) for c in self.classifier.classes_]
        fingerprint = hashlib.sha256("\x1f".join(f"{t}\x1e{y}" for t, y in zip(texts, labels, strict=True))
                                     .encode()).hexdigest()[:12]
        self.version = f"{VERSION}-{fingerprint}"
        self.training = {"rows": len(texts), "classes": len(counts),
                         "out_of_fold_accuracy": float(np.concatenate(right).mean()) if right else None}
        return self

    def predict(self, texts: Sequence[str], alternatives: int = 3) -> list[Prediction]:
        if self.vectorizer is None or self.classifier is None or self.calibration is None:
            raise TriageError("the model is not trained")
        if not texts:
            return []
        scores = self.classifier.decision_function(self.vectorizer.transform(texts))
        best, margin = _margins(scores)
        confidence = self.calibration.predict(margin)
        found = []
        for row in range(len(texts)):
            if scores.ndim == 1:
                others: tuple[tuple[str, float], ...] = ((self.classes[1 - best[row]], 0.0),)
            else:
                order = np.argsort(scores[row])[::-1][1:alternatives + 1]
                others = tuple((self.classes[i], float(scores[row, i])) for i in order)
            found.append(Prediction(self.classes[best[row]], float(confidence[row]), others))
        return found


def join_text(values: Sequence[Any]) -> str:
    """The text of a ticket from several columns (title, description...): missing values left out."""
    return "\n".join(str(v).strip() for v in values if v is not None and str(v).strip())
