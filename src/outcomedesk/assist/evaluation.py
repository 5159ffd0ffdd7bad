"""Quality figures of a triage model on a test set: accuracy, macro-F1, weighted-F1 and the
precision-coverage curve (what share of tickets could be auto-applied at a precision target).

`evaluate_csv` is what `outcomedesk assist evaluate` runs: it reads any CSV, trains the production
`TriageModel` on the training file and measures it on the test file.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from outcomedesk.assist.triage import Prediction, TriageError, TriageModel, join_text
from outcomedesk.core.textfiles import NotUtf8, require_utf8

PRECISION_TARGETS = (0.9, 0.95)


def coverage_at(predictions: Sequence[Prediction], truth: Sequence[str], precision: float) -> float:
    """The largest share of tickets that, taken most confident first, are right at least `precision` of the
    time: the share the model could auto-apply at that precision."""
    if not predictions:
        return 0.0
    order = sorted(range(len(predictions)), key=lambda i: -predictions[i].confidence)
    right = np.cumsum([predictions[i].label == truth[i] for i in order])
    taken = np.arange(1, len(order) + 1)
    # Only thresholds between distinct confidences can be chosen: cut after the last of equal confidences.
    ends = [k for k in range(len(order)) if k == len(order) - 1
            or predictions[order[k]].confidence != predictions[order[k + 1]].confidence]
    best = 0
    for k in ends:
        if right[k] / taken[k] >= precision:
            best = int(taken[k])
    return best / len(predictions)


def curve(predictions: Sequence[Prediction], truth: Sequence[str], points: int = 20) -> list[dict[str, float]]:
    """Precision and coverage at confidence thresholds from 0 to 0.95."""
    rows = []
    for step in range(points):
        threshold = step / points
        taken = [i for i, p in enumerate(predictions) if p.confidence >= threshold]
        if not taken:
            break
        precision = sum(predictions[i].label == truth[i] for i in taken) / len(taken)
        rows.append({"threshold": threshold, "precision": round(precision, 4),
                     "coverage": round(len(taken) / len(predictions), 4)})
    return rows


def figures(predictions: Sequence[Prediction], truth: Sequence[str]) -> dict[str, Any]:
    labels = [p.label for p in predictions]
    return {
        "test_rows": len(truth),
        "accuracy": round(float(accuracy_score(truth, labels)), 4),
        "macro_f1": round(float(f1_score(truth, labels, average="macro", zero_division=0)), 4),
        "weighted_f1": round(float(f1_score(truth, labels, average="weighted", zero_division=0)), 4),
        **{f"coverage_at_{int(p * 100)}_precision": round(coverage_at(predictions, truth, p), 4)
           for p in PRECISION_TARGETS},
        "precision_coverage": curve(predictions, truth),
    }


def reference(train: tuple[list[str], list[str]], test: tuple[list[str], list[str]]) -> dict[str, float]:
    """The common baseline, TF-IDF of words and a linear SVM, on the same split."""
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC())
    model.fit(*train)
    guessed = model.predict(test[0])
    return {"accuracy": round(float(accuracy_score(test[1], guessed)), 4),
            "macro_f1": round(float(f1_score(test[1], guessed, average="macro", zero_division=0)), 4),
            "weighted_f1": round(float(f1_score(test[1], guessed, average="weighted", zero_division=0)), 4)}


def read_rows(path: Path, text_columns: Sequence[str], label: str) -> tuple[list[str], list[str]]:
    """Texts and labels of a CSV (UTF-8, a BOM allowed; another encoding is an error naming the file); rows
    without a label are left out. Errors name the file and the missing columns."""
    if not path.is_file():
        raise TriageError(f"{path}: no such file")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        require_utf8(path)
    except NotUtf8 as exc:
        raise TriageError(str(exc)) from None
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in (*text_columns, label) if c not in header]
            if missing:
                raise TriageError(f"{path}: no column {', '.join(repr(c) for c in missing)}"
                                  f" (columns: {', '.join(header) or 'none'})")
            texts, labels = [], []
            for row in reader:
                value = (row.get(label) or "").strip()
                if value:
                    texts.append(join_text([row.get(c) for c in text_columns]))
                    labels.append(value)
    except csv.Error as exc:
        raise TriageError(f"{path} is not CSV: {exc}") from exc
    return texts, labels


def evaluate_csv(train: Path, test: Path, text_columns: Sequence[str], label: str,
                 with_reference: bool = True) -> dict[str, Any]:
    train_rows = read_rows(train, text_columns, label)
    test_rows = read_rows(test, text_columns, label)
    if not test_rows[0]:
        raise TriageError(f"{test}: no row has a {label!r}")
    model = TriageModel().fit(*train_rows)
    result = {"model": model.version, "train_rows": len(train_rows[0]), "classes": model.training["classes"],
              **figures(model.predict(test_rows[0]), test_rows[1])}
    if with_reference:
        result["reference_tfidf_linear_svm"] = reference(train_rows, test_rows)
    return result
