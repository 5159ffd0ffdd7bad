"""`outcomedesk assist evaluate --train FILE --test FILE --text COL[,COL...] --label COL [--json]`,
`outcomedesk assist rank --corpus CORPUS.jsonl --queries QUERIES.jsonl [--json] [--limit N]`,
`outcomedesk assist train [--desk SLUG] [--field NAME]` and `outcomedesk assist switch FEATURE on|off`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outcomedesk.accounts import policy
from outcomedesk.accounts.models import Desk
from outcomedesk.assist import services
from outcomedesk.assist.evaluation import PRECISION_TARGETS, evaluate_csv
from outcomedesk.assist.models import Feature, TrainedModel, TriageField
from outcomedesk.assist.ranking import rank_files
from outcomedesk.assist.retrieval import RetrievalError
from outcomedesk.assist.switches import set_switch
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

        train = sub.add_parser("train", help="Train the triage models from the desks' resolved tickets")
        train.add_argument("--desk", action="append", help="Desk slug (repeatable); every active desk if left out")
        train.add_argument("--field", action="append", choices=TriageField.values,
                           help="Field to learn (repeatable); every field if left out")
        train.add_argument("--limit", type=int, help="Newest resolved tickets to learn from (default 50,000)")
        switch = sub.add_parser("switch", help="Turn an AI feature on or off for everybody (the kill switch)")
        switch.add_argument("feature", choices=Feature.values)
        switch.add_argument("state", choices=["on", "off"])
        switch.add_argument("--reason", default="", help="Why, shown to admins")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rank":
            self.rank(options)
            return
        if options["action"] == "train":
            self.train(options)
            return
        if options["action"] == "switch":
            set_switch(policy.OPERATOR, options["feature"], options["state"] == "on", options["reason"])
            self.stdout.write(f"{options['feature']}: {options['state']}")
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

    def train(self, options: dict[str, Any]) -> None:
        if options["limit"] is not None and options["limit"] < 100:
            raise CommandError("--limit: must be 100 or more")
        desks = list(Desk.objects.filter(is_active=True))
        if options["desk"]:
            known = {d.slug: d for d in desks}
            unknown = [s for s in options["desk"] if s not in known]
            if unknown:
                raise CommandError(f"--desk: no active desk {', '.join(unknown)}"
                                   f" (desks: {', '.join(sorted(known)) or 'none'})")
            desks = [known[s] for s in options["desk"]]
        trained = 0
        for desk in desks:
            for row in services.train_desk(desk, actor=policy.OPERATOR, fields=options["field"], limit=options["limit"],
                                           progress=lambda line: self.stdout.write(f"training {line}")):
                if isinstance(row, TrainedModel):
                    trained += 1
                    figures = row.figures
                    self.stdout.write(
                        f"{desk.slug} {row.field}: {row.version}, {row.rows} tickets, {row.classes} values, "
                        f"held-out accuracy {figures.get('accuracy', 0):.3f}, "
                        f"macro-F1 {figures.get('macro_f1', 0):.3f}, "
                        f"auto-applicable at 90% precision {figures.get('coverage_at_90_precision', 0):.1%}, "
                        f"{figures.get('train_seconds')} s")
                else:
                    self.stdout.write(f"{desk.slug} {row.field}: skipped, {row.reason}")
        if not trained:
            raise CommandError("nothing was trained: no desk has enough resolved tickets with two values or more")
