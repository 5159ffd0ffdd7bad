"""Duplicate detection and neighbour agreement, measured with the production retriever (`assist rank`).

    .venv/bin/python -m benchmarks.ai_duplicates [--out /tmp/ai-duplicates]

Writes the JSON Lines of three tasks and ranks them with `outcomedesk.assist.ranking.rank_files`, the code
behind `outcomedesk assist rank` (set OUTCOMEDESK_ASSIST_EMBEDDINGS to measure the semantic backend):

- banking77 paraphrase duplicates: each test utterance against 20 training utterances, one of which asks the
  same thing in other words (same intent), 19 of other intents; is the paraphrase ranked first?
- it_ticket_assignment reported again: tickets whose short description another caller also wrote (2 or 3
  tickets with it, descriptions differing), the query being the description alone (without the shared
  title), against the other report and 19 tickets of the same assignment group (the hardest distractors).
- banking77 neighbour agreement: each test utterance against all 10,003 training ones; the top neighbour's
  intent.

Seeded; the files are kept in --out so that `outcomedesk assist rank` can be run on them directly.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def banking(out: Path, rng: random.Random) -> tuple[Path, Path, Path, dict[str, str], dict[str, str]]:
    train = list(csv.DictReader((DATA / "banking77" / "train.csv").open(encoding="utf-8")))
    test = list(csv.DictReader((DATA / "banking77" / "test.csv").open(encoding="utf-8")))
    label = ({f"t{i}": r["category"] for i, r in enumerate(train)}
             | {f"q{i}": r["category"] for i, r in enumerate(test)})
    by_intent: dict[str, list[str]] = defaultdict(list)
    for i, r in enumerate(train):
        by_intent[r["category"]].append(f"t{i}")
    everyone = [f"t{i}" for i in range(len(train))]
    corpus = write(out / "b77-corpus.jsonl",
                   [{"id": f"t{i}", "title": r["text"], "body": ""} for i, r in enumerate(train)])
    duplicates, truth = [], {}
    for i, r in enumerate(test):
        same = rng.choice(by_intent[r["category"]])
        others = []
        while len(others) < 19:
            pick = rng.choice(everyone)
            if label[pick] != r["category"] and pick not in others:
                others.append(pick)
        candidates = [same, *others]
        rng.shuffle(candidates)
        duplicates.append({"id": f"q{i}", "title": r["text"], "body": "", "candidates": candidates})
        truth[f"q{i}"] = same
    queries = write(out / "b77-duplicate-queries.jsonl", duplicates)
    neighbours = write(out / "b77-queries.jsonl", [{"id": f"q{i}", "title": r["text"], "body": ""}
                                                   for i, r in enumerate(test)])
    return corpus, queries, neighbours, truth, label


def tickets(out: Path, rng: random.Random) -> tuple[Path, Path, dict[str, str]]:
    path = DATA / "it_ticket_assignment" / "train.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8", errors="replace")))

    def norm(text: str) -> str:
        return re.sub(r"\s+", " ", (text or "").lower()).strip()

    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[norm(r["Short description"])].append(i)
    by_team: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_team[r["Assignment group"]].append(i)
    corpus = write(out / "ita-corpus.jsonl",
                   [{"id": f"i{i}", "title": r["Short description"], "body": r["Description"]}
                    for i, r in enumerate(rows)])
    queries, truth = [], {}
    for title, members in groups.items():
        if not 2 <= len(members) <= 3 or len(title.split()) < 2:
            continue
        first, second = members[0], members[1]
        a, b = rows[first], rows[second]
        if a["Caller"] == b["Caller"] or norm(a["Description"]) in ("", title, norm(b["Description"])):
            continue
        team = [i for i in by_team[a["Assignment group"]] if i not in members]
        if len(team) < 19:
            team += [i for i in rng.sample(range(len(rows)), 60) if i not in members and i not in team]
        candidates = [f"i{second}", *[f"i{i}" for i in rng.sample(team, 19)]]
        rng.shuffle(candidates)
        queries.append({"id": f"i{first}", "title": "", "body": a["Description"], "candidates": candidates})
        truth[f"i{first}"] = f"i{second}"
    return corpus, write(out / "ita-duplicate-queries.jsonl", queries), truth


def score(ranked: dict[str, list[str]], truth: dict[str, str]) -> dict[str, float]:
    first = sum(ranked[q][0] == t for q, t in truth.items())
    reciprocal = sum(1 / (ranked[q].index(t) + 1) for q, t in truth.items())
    return {"queries": len(truth), "duplicate_ranked_first": round(first / len(truth), 4),
            "mrr": round(reciprocal / len(truth), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/ai-duplicates"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from outcomedesk.assist import semantic
    from outcomedesk.assist.ranking import rank_files

    rng = random.Random(42)
    b77_corpus, b77_dups, b77_queries, b77_truth, label = banking(args.out, rng)
    ita_corpus, ita_dups, ita_truth = tickets(args.out, rng)
    encoder = semantic.encoder()
    result: dict[str, Any] = {"backend": "lexical" if encoder is None else f"lexical+semantic ({encoder.name})"}
    for name, corpus, queries, truth in (("banking77 paraphrase duplicates", b77_corpus, b77_dups, b77_truth),
                                         ("it_ticket_assignment reported again", ita_corpus, ita_dups, ita_truth)):
        started = time.perf_counter()
        found = score(rank_files(corpus, queries), truth)
        result[name] = found | {"seconds": round(time.perf_counter() - started, 1)}
        print(name, result[name], flush=True)
    started = time.perf_counter()
    ranked = rank_files(b77_corpus, b77_queries, limit=5)
    top1 = sum(label[ids[0]] == label[q] for q, ids in ranked.items() if ids) / len(ranked)
    top5 = sum(any(label[i] == label[q] for i in ids) for q, ids in ranked.items()) / len(ranked)
    result["banking77 neighbour agreement"] = {"queries": len(ranked), "top1": round(top1, 4),
                                               "top5": round(top5, 4),
                                               "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
