"""`assist rank`: the production retriever over any corpus and queries in JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from outcomedesk.assist import semantic
from outcomedesk.assist.retrieval import Document, LexicalIndex, RetrievalError
from outcomedesk.assist.similar import CANDIDATES
from outcomedesk.assist.triage import join_text
from outcomedesk.core.textfiles import NotUtf8, require_utf8


def read_jsonl(path: Path, what: str) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file; a bad line is an error naming the file and line."""
    if not path.is_file():
        raise RetrievalError(f"{path}: no such file")
    try:
        require_utf8(path)
    except NotUtf8 as exc:
        raise RetrievalError(str(exc)) from None
    rows = []
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RetrievalError(f"{path} line {number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or row.get("id") in (None, ""):
                raise RetrievalError(f'{path} line {number}: a {what} needs an "id"')
            rows.append(row)
    return rows


def text_of(row: dict[str, Any]) -> str:
    return join_text([row.get("title"), row.get("body")])


def rank_files(corpus_path: Path, queries_path: Path, limit: int = 10) -> dict[str, list[str]]:
    """{query id: [document ids, best first]}. With `candidates`, every candidate is ranked (those sharing
    nothing with the query last, in the order given). With the semantic backend on (OUTCOMEDESK_ASSIST_
    EMBEDDINGS), the lexical top CANDIDATES are re-ranked by meaning as the ticket retriever does."""
    corpus = read_jsonl(corpus_path, "document")
    if not corpus:
        raise RetrievalError(f"{corpus_path}: the corpus is empty")
    queries = read_jsonl(queries_path, "query")
    index = LexicalIndex([Document(str(row["id"]), text_of(row)) for row in corpus])
    encoder = semantic.encoder()
    vectors = encoder.embed([text_of(row) for row in corpus]) if encoder is not None else None
    ranked: dict[str, list[str]] = {}
    for query in queries:
        text = text_of(query)
        candidates = query.get("candidates")
        if candidates is not None:
            if not isinstance(candidates, list):
                raise RetrievalError(f"{queries_path}: query {query['id']}: candidates must be a list of ids")
            wanted = [str(c) for c in candidates]
            found = [doc_id for doc_id, _ in index.search(text, limit=max(1, len(wanted)), candidates=wanted)]
            order = found + [c for c in dict.fromkeys(wanted) if c not in set(found) and c in index.position]
            tail = [c for c in dict.fromkeys(wanted) if c not in index.position]
        else:
            order = [doc_id for doc_id, _ in index.search(text, limit=max(limit, CANDIDATES))]
            tail = []
        if encoder is not None and vectors is not None and len(order) > 1:
            query_vector = encoder.embed([text])[0]
            pool = order[:CANDIDATES]
            if candidates is None:  # the whole corpus is embedded: the nearest by meaning join the pool
                nearest = np.argsort(-(vectors @ query_vector))[:CANDIDATES]
                pool += [index.ids[i] for i in nearest if index.ids[i] not in set(pool)]
            meaning = vectors[[index.position[d] for d in pool]] @ query_vector
            order = semantic.fuse(pool, meaning) + [d for d in order[CANDIDATES:] if d not in set(pool)]
        ranked[str(query["id"])] = (order + tail) if candidates is not None else order[:limit]
    return ranked
