"""Similar tickets, likely duplicates, and (with later issues) knowledge articles and known errors: one retriever
over pluggable corpora.

A corpus gives candidates for a text: the database's full-text index (SQLite FTS5, PostgreSQL tsvector)
finds documents sharing any informative word, with the reader's visibility applied in SQL. The retriever
re-ranks them with `LexicalIndex` (BM25 on stemmed words fused with character grams by reciprocal rank) and,
when the semantic backend is on, with sentence embeddings fused the same way. Each hit carries a score
(character-gram cosine, 0 to 1), the words it shares with the text and the passage where they meet. A
knowledge base is one more `Corpus` class, not new retrieval code.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from outcomedesk.assist.retrieval import RRF_K, Document, LexicalIndex
from outcomedesk.core import clock
from outcomedesk.tickets import search
from outcomedesk.tickets.models import OPEN_STATES, State, Ticket
from outcomedesk.tickets.queries import visible_tickets

VERSION = "retriever-lexical-1"
QUERY_WORDS = 12  # informative words of the text sent to the full-text index
CANDIDATES = 200
DUPLICATE_WINDOW = timedelta(days=14)  # likely duplicates are among tickets opened this recently
DUPLICATE_MIN_SCORE = 0.45
RECENT_OPEN = 500  # open tickets of the desk compared for duplicates, newest first
_WORD = re.compile(r"(?u)\b[^\W\d_]{3,}\b")
_SENTENCE = re.compile(r"(?<=[.!?\n])\s+")


@dataclass(frozen=True)
class Entry:
    key: str
    title: str
    body: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    entry: Entry
    score: float  # character-gram cosine with the text, 0 to 1
    words: tuple[str, ...]  # words of the text the document shares, rarest first
    passage: str  # the sentence of the document where most of them meet


class Corpus(Protocol):
    name: str

    def candidates(self, text: str, limit: int) -> list[Entry]: ...


def query_words(text: str, limit: int = QUERY_WORDS) -> list[str]:
    """Distinct words worth looking up: no stop words, no numbers; longer words first (they are rarer)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in ENGLISH_STOP_WORDS:
            seen.setdefault(word, None)
    return sorted(seen, key=lambda w: (-len(w), w))[:limit]


def _passage(body: str, words: Sequence[str], width: int = 240) -> str:
    if not body.strip():
        return ""
    sentences = [s.strip() for s in _SENTENCE.split(body) if s.strip()] or [body.strip()]
    lowered = [s.lower() for s in sentences]
    best = max(range(len(sentences)), key=lambda i: (sum(w in lowered[i] for w in words), -i))
    found = sentences[best]
    return found if len(found) <= width else found[: width - 1].rstrip() + "…"


def rank(corpus: Corpus, text: str, limit: int = 5, min_score: float = 0.0) -> list[Hit]:
    """The corpus's best documents for `text`, best first."""
    if not text.strip():
        return []
    entries = corpus.candidates(text, CANDIDATES)
    entries = [e for e in entries if (e.title + e.body).strip()]
    if not entries:
        return []
    index = LexicalIndex([Document(e.key, f"{e.title}\n{e.body}") for e in entries])
    by_key = {e.key: e for e in entries}
    scores = index.similarity(text)
    ranked = [key for key, _ in index.search(text, limit=len(entries))]
    ranked = _semantic_rerank(text, ranked, by_key)
    hits = []
    for key in ranked:
        score = float(scores[index.position[key]])
        if score < min_score:
            continue
        entry = by_key[key]
        words = tuple(index.shared_words(text, key))
        hits.append(Hit(entry, round(score, 4), words, _passage(entry.body or entry.title, words)))
        if len(hits) == limit:
            break
    return hits


def _semantic_rerank(text: str, ranked: list[str], by_key: dict[str, Entry]) -> list[str]:
    """With the semantic backend on, fuse the lexical order with the embedding order by reciprocal rank."""
    from outcomedesk.assist import semantic

    encoder = semantic.encoder()
    if encoder is None or len(ranked) < 2:
        return ranked
    similarity = encoder.similarities(text, [f"{by_key[k].title}\n{by_key[k].body}" for k in ranked])
    by_meaning = [ranked[i] for i in sorted(range(len(ranked)), key=lambda i: -similarity[i])]
    fused: dict[str, float] = {}
    for order in (ranked, by_meaning):
        for position, key in enumerate(order, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + position)
    return sorted(ranked, key=lambda k: -fused[k])


def version() -> str:
    from outcomedesk.assist import semantic

    encoder = semantic.encoder()
    return VERSION if encoder is None else f"{VERSION}+{encoder.name}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the tickets corpus -------------------------------------------------------------------------------------

def _ticket_entry(ticket: Ticket) -> Entry:
    return Entry(
        key=ticket.number,
        title=ticket.title,
        body="\n".join(p for p in (ticket.description, ticket.resolution_notes) if p),
        extra={"state": ticket.state, "resolution": ticket.resolution_notes, "opened_at": ticket.opened_at,
               "resolved_at": ticket.resolved_at, "desk": ticket.desk_id},
    )


class ResolvedTickets:
    """Resolved and closed tickets the reader may see, found by any informative word."""

    name = "tickets"

    def __init__(self, reader: Any, exclude: int | None = None, desk_id: int | None = None) -> None:
        self.reader, self.exclude, self.desk_id = reader, exclude, desk_id

    def candidates(self, text: str, limit: int) -> list[Entry]:
        ids = search.backend().any_word_ids(query_words(text), limit * 2)
        rows = visible_tickets(self.reader).filter(pk__in=ids, state__in=(State.RESOLVED, State.CLOSED))
        if self.desk_id is not None:
            rows = rows.filter(desk_id=self.desk_id)
        if self.exclude is not None:
            rows = rows.exclude(pk=self.exclude)
        order = {pk: i for i, pk in enumerate(ids)}
        found = sorted(rows.order_by(), key=lambda t: order[t.pk])[:limit]
        return [_ticket_entry(t) for t in found]


class RecentOpenTickets:
    """Open tickets of one desk opened in the last two weeks: where a duplicate of a new ticket is."""

    name = "open-tickets"

    def __init__(self, ticket: Ticket, reader: Any | None = None) -> None:
        self.ticket, self.reader = ticket, reader

    def candidates(self, text: str, limit: int) -> list[Entry]:
        rows = Ticket.objects.all() if self.reader is None else visible_tickets(self.reader)
        since = max(self.ticket.opened_at, clock.now()) - DUPLICATE_WINDOW
        rows = (rows.filter(desk_id=self.ticket.desk_id, state__in=OPEN_STATES, opened_at__gte=since)
                .exclude(pk=self.ticket.pk).order_by("-opened_at")[:RECENT_OPEN])
        return [_ticket_entry(t) for t in rows]


def ticket_text(ticket: Ticket) -> str:
    return f"{ticket.title}\n{ticket.description}".strip()


def similar_resolved(reader: Any, ticket: Ticket, limit: int = 5) -> list[Hit]:
    """Resolved tickets like this one, with their resolution: what worked before."""
    return rank(ResolvedTickets(reader, exclude=ticket.pk), ticket_text(ticket), limit)


def likely_duplicates(ticket: Ticket, reader: Any | None = None, limit: int = 5) -> list[Hit]:
    """Open tickets of the same desk that report the same thing, most alike first."""
    return rank(RecentOpenTickets(ticket, reader), ticket_text(ticket), limit, min_score=DUPLICATE_MIN_SCORE)
