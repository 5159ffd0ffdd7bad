"""The triage model and `outcomedesk assist evaluate` on real tickets (a slice of it_ticket_assignment), the
precision-coverage maths on hand-made cases, and bad input."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from outcomedesk.assist.evaluation import coverage_at, figures
from outcomedesk.assist.triage import Prediction, TriageError, TriageModel

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "it_ticket_assignment" / "train.csv"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="the shared data folder is not beside the clone")
TEXT = "Short description,Description"
LABEL = "Assignment group"


def _split(tmp_path: Path, rows: int = 2400) -> tuple[Path, Path]:
    with DATA.open(newline="", encoding="utf-8", errors="replace") as handle:
        table = list(csv.reader(handle))
    header, body = table[0], table[1:]
    random.Random(7).shuffle(body)
    body = body[:rows]
    cut = int(len(body) * 0.8)
    paths = []
    for name, part in (("train", body[:cut]), ("test", body[cut:])):
        path = tmp_path / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(part)
        paths.append(path)
    return paths[0], paths[1]


def _evaluate(*args: str) -> str:
    out = io.StringIO()
    call_command("assist", "evaluate", *args, stdout=out)
    return out.getvalue()


@needs_data
def test_evaluate_trains_the_production_model_and_beats_the_majority_class(tmp_path: Path) -> None:
    train, test = _split(tmp_path)
    result = json.loads(_evaluate("--train", str(train), "--test", str(test), "--text", TEXT, "--label", LABEL,
                                  "--json"))
    assert {"accuracy", "macro_f1", "weighted_f1", "coverage_at_90_precision", "coverage_at_95_precision",
            "precision_coverage", "reference_tfidf_linear_svm"} <= set(result)
    with test.open(newline="", encoding="utf-8") as handle:
        truth = [row[LABEL] for row in csv.DictReader(handle)]
    majority = Counter(truth).most_common(1)[0][1] / len(truth)
    assert result["test_rows"] == len(truth)
    assert result["accuracy"] > majority + 0.1
    assert 0 < result["coverage_at_90_precision"] <= 1
    assert result["model"].startswith("triage-svm-2-")
    table = _evaluate("--train", str(train), "--test", str(test), "--text", TEXT, "--label", LABEL,
                      "--no-reference")
    assert "auto-applicable at 90% precision" in table and "reference" not in table


@needs_data
def test_confidence_is_calibrated_on_held_out_tickets(tmp_path: Path) -> None:
    train, test = _split(tmp_path, rows=3000)

    def read(path: Path) -> tuple[list[str], list[str]]:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [f"{r['Short description']}\n{r['Description']}" for r in rows], [r[LABEL] for r in rows]

    model = TriageModel().fit(*read(train))
    texts, truth = read(test)
    predictions = model.predict(texts)
    assert all(0.0 <= p.confidence <= 1.0 for p in predictions)
    sure = [p.label == t for p, t in zip(predictions, truth, strict=True) if p.confidence >= 0.9]
    unsure = [p.label == t for p, t in zip(predictions, truth, strict=True) if p.confidence < 0.5]
    assert sure and unsure
    assert sum(sure) / len(sure) > 0.8 > sum(unsure) / len(unsure)


def test_coverage_is_the_share_taken_most_confident_first_at_the_precision() -> None:
    predictions = [Prediction(label, confidence, ()) for label, confidence in
                   [("a", 0.99), ("a", 0.95), ("b", 0.9), ("a", 0.8), ("b", 0.5)]]
    truth = ["a", "a", "a", "a", "a"]  # right, right, wrong, right, wrong
    assert coverage_at(predictions, truth, 1.0) == 0.4
    assert coverage_at(predictions, truth, 0.75) == 0.8
    assert coverage_at(predictions, truth, 0.6) == 1.0
    assert coverage_at(predictions, ["b"] * 5, 0.9) == 0.0
    result = figures(predictions, truth)
    assert result["accuracy"] == 0.6 and result["precision_coverage"][0] == {
        "threshold": 0.0, "precision": 0.6, "coverage": 1.0}


def test_two_classes_and_tied_confidences_are_handled() -> None:
    model = TriageModel().fit(["printer jam", "printer offline", "vpn down", "vpn slow"] * 3,
                              ["print", "print", "network", "network"] * 3)
    [guess] = model.predict(["the printer is jammed"])
    assert guess.label == "print"
    tied = [Prediction("a", 0.5, ()), Prediction("b", 0.5, ())]
    assert coverage_at(tied, ["a", "a"], 0.9) == 0.0  # both or neither: 50 % precision


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def test_bad_input_is_a_clear_message(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.csv", [["title", "group"], ["printer jam", "print"], ["vpn down", "network"]])
    with pytest.raises(CommandError, match=r"no column 'body'"):
        _evaluate("--train", str(good), "--test", str(good), "--text", "title,body", "--label", "group")
    with pytest.raises(CommandError, match=r"no column 'team'.*columns: title, group"):
        _evaluate("--train", str(good), "--test", str(good), "--text", "title", "--label", "team")
    one = _write(tmp_path / "one.csv", [["title", "group"], ["printer jam", "print"], ["toner", "print"]])
    with pytest.raises(CommandError, match="one class only"):
        _evaluate("--train", str(one), "--test", str(good), "--text", "title", "--label", "group")
    with pytest.raises(CommandError, match="no such file"):
        _evaluate("--train", str(tmp_path / "absent.csv"), "--test", str(good), "--text", "title", "--label",
                  "group")
    with pytest.raises(CommandError, match="--text"):
        _evaluate("--train", str(good), "--test", str(good), "--text", " , ", "--label", "group")
    unlabelled = _write(tmp_path / "unlabelled.csv", [["title", "group"], ["printer jam", ""]])
    with pytest.raises(CommandError, match="no row has a 'group'"):
        _evaluate("--train", str(good), "--test", str(unlabelled), "--text", "title", "--label", "group")
    with pytest.raises(TriageError, match="every text is empty"):
        TriageModel().fit(["", " "], ["a", "b"])
