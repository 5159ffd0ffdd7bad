"""`outcomedesk assist evaluate --train FILE --test FILE --text COL[,COL...] --label COL [--json]` and
`outcomedesk assist rank --corpus CORPUS.jsonl --queries QUERIES.jsonl [--json] [--limit N]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.assist.evaluation import PRECISION_TARGETS, evaluate_csv
from outcomedesk.assist.ranking import rank_files
from outcomedesk.assist.retrieval import RetrievalError
from outcomedesk.assist.triage import TriageError


class Command(BaseCommand):
    help = "AI assist: `assist evaluate` trains the production triage model on a CSV and measures it on another"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        evaluate = sub.add_parser("evaluate", help="Train the triage model on one CSV and measure it on another")
        evaluate.add_argument("--train", type=Path, required=True, help="CSV the model learns from")
        evaluate.add_argument("--test", type=Path, required=True, help="CSV it is measured on")
        evaluate.add_argument("--text", required=True, help="Column(s) holding the text, comma-separated")
        evaluate.add_argument("--label", required=True, help="Column holding the value to predict")
        evaluate.add_argument("--json", action="store_true", help="One JSON object instead of a table")
        evaluate.add_argument("--no-reference", action="store_true",
                              help="Skip the TF-IDF + linear SVM reference run")
        rank = sub.add_parser("rank", help="Rank a corpus for each query with the production retriever")
        rank.add_argument("--corpus", type=Path, required=True, help='JSON Lines: {"id", "title", "body"}')
        rank.add_argument("--queries", type=Path, required=True,
                          help='JSON Lines: {"id", "title", "body", "candidates": [ids, optional]}')
        rank.add_argument("--limit", type=int, default=10, help="Documents per query without candidates")
        rank.add_argument("--json", action="store_true", help="One JSON object {query_id: [ids best first]}")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rank":
            self.rank(options)
            return
        columns = [c.strip() for c in options["text"].split(",") if c.strip()]
        if not columns:
            raise CommandError("--text: name at least one column")
        try:
            result = evaluate_csv(options["train"], options["test"], columns, options["label"].strip(),
                                  with_reference=not options["no_reference"])
        except TriageError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        self.stdout.write(f"model {result['model']}: trained on {result['train_rows']} rows, "
                          f"{result['classes']} classes; tested on {result['test_rows']} rows")
        for name in ("accuracy", "macro_f1", "weighted_f1"):
            ref = result.get("reference_tfidf_linear_svm", {}).get(name)
            self.stdout.write(f"  {name:<12} {result[name]:.4f}" + (f"   (reference {ref:.4f})" if ref is not None
                                                                     else ""))
        for target in PRECISION_TARGETS:
            key = f"coverage_at_{int(target * 100)}_precision"
            self.stdout.write(f"  auto-applicable at {target:.0%} precision: {result[key]:.1%} of tickets")
        self.stdout.write("  threshold  precision  coverage")
        for point in result["precision_coverage"]:
            self.stdout.write(f"  {point['threshold']:9.2f}  {point['precision']:9.3f}  {point['coverage']:8.3f}")

    def rank(self, options: dict[str, Any]) -> None:
        if options["limit"] < 1:
            raise CommandError("--limit: must be 1 or more")
        try:
            ranked = rank_files(options["corpus"], options["queries"], options["limit"])
        except RetrievalError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(ranked))
            return
        for query_id, ids in ranked.items():
            self.stdout.write(f"{query_id}: {' '.join(ids)}")
