"""`outcomedesk assist rank`: the production retriever over JSON Lines, its fusion of words and character
grams, candidates, and bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from outcomedesk.assist.retrieval import Document, LexicalIndex, RetrievalError, stem

CORPUS = [
    {"id": "kb1", "title": "Reset your password", "body": "Use the self-service portal to reset a forgotten password."},
    {"id": "kb2", "title": "Delete a Facebook account", "body": "How do I delete my Facebook account for good?"},
    {"id": "kb3", "title": "Printer shows paper jam", "body": "Open tray 2 and remove the jammed paper."},
    {"id": "kb4", "title": "VPN disconnects", "body": "The VPN client drops the connection every few minutes."},
]


def _jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rank(*args: str) -> str:
    out = io.StringIO()
    call_command("assist", "rank", *args, stdout=out)
    return out.getvalue()


def test_it_ranks_each_query_and_holds_up_against_typos_and_inflections(tmp_path: Path) -> None:
    corpus = _jsonl(tmp_path / "corpus.jsonl", CORPUS)
    queries = _jsonl(tmp_path / "queries.jsonl", [
        {"id": "q1", "title": "pasword reseting", "body": "I forgot my passwrd"},
        {"id": "q2", "title": "printer jamming", "body": ""},
        {"id": "q3", "title": "vpn keeps disconnecting", "body": "", "candidates": ["kb1", "kb4", "kb9"]},
    ])
    ranked = json.loads(_rank("--corpus", str(corpus), "--queries", str(queries), "--json", "--limit", "2"))
    assert ranked["q1"][0] == "kb1"
    assert ranked["q2"][0] == "kb3" and len(ranked["q2"]) <= 2
    assert ranked["q3"] == ["kb4", "kb1", "kb9"]  # every candidate, those sharing nothing last
    text = _rank("--corpus", str(corpus), "--queries", str(queries))
    assert text.splitlines()[0].startswith("q1: kb1")


def test_the_fused_score_favours_documents_both_signals_find() -> None:
    index = LexicalIndex([Document(str(r["id"]), f"{r['title']}\n{r['body']}") for r in CORPUS])
    found = index.search("remove my facebook account", limit=4)
    assert found[0][0] == "kb2"
    assert [score for _, score in found] == sorted((score for _, score in found), reverse=True)
    assert index.search("zzzz qqqq", limit=3) == []
    assert stem("removing") == stem("removes") == "remov"


def test_bad_input_is_a_clear_message(tmp_path: Path) -> None:
    corpus = _jsonl(tmp_path / "corpus.jsonl", CORPUS)
    empty = _jsonl(tmp_path / "empty.jsonl", [])
    queries = _jsonl(tmp_path / "queries.jsonl", [{"id": "q1", "title": "vpn"}])
    with pytest.raises(CommandError, match="the corpus is empty"):
        _rank("--corpus", str(empty), "--queries", str(queries))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "title": "x"}\n{"id": "b", "title": \n', encoding="utf-8")
    with pytest.raises(CommandError, match=r"broken.jsonl line 2: not JSON"):
        _rank("--corpus", str(broken), "--queries", str(queries))
    nameless = _jsonl(tmp_path / "nameless.jsonl", [{"title": "no id"}])
    with pytest.raises(CommandError, match=r'line 1: a query needs an "id"'):
        _rank("--corpus", str(corpus), "--queries", str(nameless))
    with pytest.raises(CommandError, match="--limit"):
        _rank("--corpus", str(corpus), "--queries", str(queries), "--limit", "0")
    with pytest.raises(CommandError, match="no such file"):
        _rank("--corpus", str(tmp_path / "absent.jsonl"), "--queries", str(queries))
    bad_candidates = _jsonl(tmp_path / "bad.jsonl", [{"id": "q", "title": "vpn", "candidates": "kb1"}])
    with pytest.raises(CommandError, match="candidates must be a list"):
        _rank("--corpus", str(corpus), "--queries", str(bad_candidates))
    with pytest.raises(RetrievalError, match="every document of the corpus is empty"):
        LexicalIndex([Document("a", " ")])
