"""The triage model: a ticket's text to one field's value (group, category, priority, service), with a
calibrated confidence. Plain scikit-learn and numpy, trained on the organisation's own tickets; no download.

Features: TF-IDF of words and word pairs, and of character 2-5-grams inside words (they hold up against typos,
inflections, German compounds and mojibake). Classifier: a linear SVM, one against the rest, with rare labels
weighted by the square root of their rarity.

Training holds 20 % of the tickets out (seeded): the SVM learns from the rest, its margins on the held-out
tickets calibrate the confidence (an isotonic fit of "was the best label right" on "gap between the best and
the second-best score", smoothed where it rests on few tickets), and the same held-out predictions give the
model's quality figures. So "0.9" means that about 9 in 10 predictions with that confidence were right on this
organisation's held-out tickets: a threshold on it is a precision target. Up to REFIT_ROWS tickets the SVM
then learns again from all of them (a fifth more data matters on a small desk, and costs seconds); above it
the measured model is the one used (a refit would double the training time of a large desk for a gain of a
fraction of a point).

Only the largest tenth of the weights of each label is kept (sparse, float32): the same accuracy on
it_ticket_assignment, a model a tenth of the size.

This module knows nothing of Django: the production path (training from tickets, the `assist evaluate`
command) and any evaluation run the same `TriageModel`.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

VERSION = "triage-svm-2"  # the recipe; a trained model's version adds its training data's fingerprint
HOLDOUT = 0.2
KEEP_WEIGHTS = 0.1  # share of each label's weights kept, the largest by magnitude
REFIT_ROWS = 20_000
MAX_CHARS = 1500  # of a ticket's text read (long e-mail threads and disclaimers add time, not meaning)
JOBS = 2  # threads training the per-label SVMs (the machines have 2 cores)
MIN_HELD = 10  # fewer held-out tickets than this: no calibration (confidence 0, never auto-applied)


class TriageError(ValueError):
    """Training or prediction cannot go on; the message says why, for people."""


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float  # calibrated: the share of predictions like this one that were right
    alternatives: tuple[tuple[str, float], ...]  # the next labels by raw score, with their scores


@dataclass(frozen=True)
class HeldOut:
    """What the model predicted for the tickets it did not learn from, and the truth."""

    predictions: tuple[Prediction, ...]
    truth: tuple[str, ...]


def features() -> FeatureUnion:
    return FeatureUnion([
        ("words", TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), max_features=100_000, min_df=2,
                                  token_pattern=r"(?u)\b\w+\b", strip_accents=None, lowercase=True)),
        ("chars", TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                  max_features=100_000, lowercase=True)),
    ])


def _margins(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the best label and the gap between the best and second-best score, per row."""
    order = np.argsort(scores, axis=1)
    best, second = order[:, -1], order[:, -2]
    rows = np.arange(scores.shape[0])
    return best, scores[rows, best] - scores[rows, second]


def _prune(weights: np.ndarray, keep: float) -> sparse.csr_matrix:
    """Each label's largest `keep` share of weights by magnitude, as a sparse float32 matrix."""
    if keep >= 1.0:
        return sparse.csr_matrix(weights.astype(np.float32))
    count = max(1, int(weights.shape[1] * keep))
    kept = np.zeros_like(weights, dtype=np.float32)
    for row in range(weights.shape[0]):
        top = np.argpartition(-np.abs(weights[row]), count - 1)[:count]
        kept[row, top] = weights[row, top]
    return sparse.csr_matrix(kept)


class Calibration:
    """Margin to the probability of being right: isotonic regression on held-out tickets, each step's share of
    right answers smoothed by Laplace's rule ((right + 1) / (tickets + 2)), so that a dozen held-out tickets that
    were all right give 0.93, not a certainty that nothing measured."""

    def __init__(self) -> None:
        self.xs = np.asarray([0.0, 1.0])
        self.ys = np.asarray([0.0, 0.0])

    def fit(self, margins: np.ndarray, right: np.ndarray) -> Calibration:
        order = np.argsort(margins, kind="stable")
        margins, right = np.asarray(margins)[order], np.asarray(right, dtype=float)[order]
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(margins, right).predict(margins)
        xs: list[float] = []
        ys: list[float] = []
        start = 0
        for end in range(1, len(margins) + 1):
            if end == len(margins) or fitted[end] != fitted[start]:
                value = (right[start:end].sum() + 1) / (end - start + 2)
                xs += [float(margins[start]), float(margins[end - 1])]
                ys += [value, value]
                start = end
        self.xs, self.ys = np.asarray(xs), np.maximum.accumulate(np.asarray(ys))
        return self

    def predict(self, margins: np.ndarray) -> np.ndarray:
        return np.interp(margins, self.xs, self.ys)


class TriageModel:
    """Fit on texts and labels; predict a label with a calibrated confidence."""

    def __init__(self, c: float = 0.5, seed: int = 0, reweight: bool = True, holdout: float = HOLDOUT) -> None:
        self.reweight = reweight
        self.c = c
        self.seed = seed
        self.holdout = holdout
        self.vectorizer: FeatureUnion | None = None
        self.weights: sparse.csr_matrix | None = None
        self.intercept: np.ndarray | None = None
        self.calibration: Calibration | None = None
        self.classes: list[str] = []
        self.word_names: np.ndarray | None = None
        self.version = VERSION
        self.training: dict[str, Any] = {}
        self.held_out: HeldOut | None = None

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
        try:
            matrix = vectorizer.fit_transform([t[:MAX_CHARS] for t in texts]).tocsr()
        except ValueError as exc:  # e.g. no word occurs twice: min_df leaves no vocabulary
            raise TriageError(f"the texts are too short or too few to learn from ({exc})") from exc
        target = np.asarray(labels, dtype=object)
        order = np.random.default_rng(self.seed).permutation(len(texts))
        held_count = int(len(texts) * self.holdout) if len(texts) * self.holdout >= MIN_HELD else 0
        held, train = order[:held_count], order[held_count:]
        if len(set(target[train])) < 2:
            train, held = order, order[:0]
        # Rare labels count more, but less than "balanced" would make them: accuracy and macro-F1 both hold.
        top = max(counts.values())
        weights = np.asarray([(top / counts[y]) ** 0.5 for y in target[train]]) if self.reweight else None
        self.vectorizer = vectorizer
        self._learn(matrix[train], target[train], weights)
        self.word_names = np.asarray(vectorizer.transformer_list[0][1].get_feature_names_out(), dtype=object)
        calibration = Calibration()
        self.held_out = None
        if held.size:
            scores = self._scores(matrix[held])
            best, margin = _margins(scores)
            right = np.asarray(self.classes, dtype=object)[best] == target[held]
            calibration.fit(margin, right.astype(float))
            self.calibration = calibration
            self.held_out = HeldOut(tuple(self._predictions(scores)), tuple(str(y) for y in target[held]))
            if len(texts) <= REFIT_ROWS:
                self._learn(matrix, target, np.asarray([(top / counts[y]) ** 0.5 for y in target])
                            if self.reweight else None)
        else:  # too few rows to hold any out: confidence 0 (never auto-applied)
            self.calibration = calibration
        fingerprint = hashlib.sha256("\x1f".join(f"{t}\x1e{y}" for t, y in zip(texts, labels, strict=True))
                                     .encode()).hexdigest()[:12]
        self.version = f"{VERSION}-{fingerprint}"
        right_share = (sum(p.label == y for p, y in zip(self.held_out.predictions, self.held_out.truth, strict=True))
                       / len(self.held_out.truth)) if self.held_out else None
        refit = bool(held.size) and len(texts) <= REFIT_ROWS
        self.training = {"rows": len(texts), "trained_on": len(texts) if refit else int(train.size),
                         "held_out": int(held.size), "refit_on_all": refit,
                         "classes": len(counts), "held_out_accuracy": right_share}
        return self

    def _learn(self, matrix: sparse.csr_matrix, target: np.ndarray, weights: np.ndarray | None) -> None:
        """One linear SVM per label against the rest. With many labels, the labels are shared between JOBS
        threads (liblinear releases the GIL): each thread's SVM sees every row, the other threads' labels
        merged into one label of its own, so each label's problem, label against the rest, is unchanged."""
        labels = sorted({str(y) for y in target})
        target = np.asarray([str(y) for y in target], dtype=object)
        shares = [labels[i::JOBS] for i in range(JOBS)] if len(labels) >= 2 * JOBS else [labels]

        def learn(share: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
            mine = set(share)
            other = "\x00rest" if len(share) < len(labels) else None
            y = target if other is None else np.asarray([t if t in mine else other for t in target], dtype=object)
            classifier = LinearSVC(C=self.c, random_state=self.seed, tol=1e-3)
            classifier.fit(matrix, y, sample_weight=weights)
            coef, intercept = classifier.coef_, classifier.intercept_
            names = [str(c) for c in classifier.classes_]
            if coef.shape[0] == 1:  # two labels: liblinear keeps one score; make it one per label
                coef = np.vstack([-coef[0], coef[0]])
                intercept = np.asarray([-intercept[0], intercept[0]])
            keep = [i for i, name in enumerate(names) if name != other]
            return [names[i] for i in keep], coef[keep], intercept[keep]

        with ThreadPoolExecutor(len(shares)) as pool:
            parts = list(pool.map(learn, shares))
        found = {name: (row, bias) for names, coef, intercept in parts
                 for name, row, bias in zip(names, coef, intercept, strict=True)}
        self.classes = labels
        coef = np.vstack([found[name][0] for name in labels])
        # Stored features x labels: a ticket's row times it is one sparse product, with no transposition per call.
        self.weights = _prune(coef, KEEP_WEIGHTS).T.tocsr()
        self.intercept = np.asarray([found[name][1] for name in labels], dtype=np.float32)

    def _scores(self, matrix: sparse.csr_matrix) -> np.ndarray:
        assert self.weights is not None and self.intercept is not None
        return np.asarray((matrix @ self.weights).todense()) + self.intercept

    def _predictions(self, scores: np.ndarray, alternatives: int = 3) -> list[Prediction]:
        assert self.calibration is not None
        best, margin = _margins(scores)
        confidence = self.calibration.predict(margin)
        found = []
        for row in range(scores.shape[0]):
            order = np.argsort(scores[row])[::-1][1:alternatives + 1]
            others = tuple((self.classes[i], float(scores[row, i])) for i in order)
            found.append(Prediction(self.classes[best[row]], float(confidence[row]), others))
        return found

    def predict(self, texts: Sequence[str], alternatives: int = 3) -> list[Prediction]:
        if self.vectorizer is None or self.weights is None or self.calibration is None:
            raise TriageError("the model is not trained")
        if not texts:
            return []
        matrix = self.vectorizer.transform([t[:MAX_CHARS] for t in texts]).tocsr()
        return self._predictions(self._scores(matrix), alternatives)

    def explain(self, text: str, label: str, limit: int = 6) -> list[dict[str, Any]]:
        """The words of `text` that pushed most towards `label`, with their weight: why the model chose it."""
        if self.vectorizer is None or self.weights is None or self.word_names is None or label not in self.classes:
            return []
        words_part = self.vectorizer.transformer_list[0][1]
        row = words_part.transform([text[:MAX_CHARS]]).tocsr()
        if not row.nnz:
            return []
        picked = self.weights[row.indices][:, self.classes.index(label)].toarray().ravel()
        contributions = sorted(((float(v * w), int(i)) for v, w, i in zip(row.data, picked, row.indices, strict=True)
                                if v * w > 0), reverse=True)[:limit]
        return [{"word": str(self.word_names[i]), "weight": round(c, 4)} for c, i in contributions]


def join_text(values: Sequence[Any]) -> str:
    """The text of a ticket from several columns (title, description...): missing values left out."""
    return "\n".join(str(v).strip() for v in values if v is not None and str(v).strip())
