"""Similar tickets, likely duplicates, and (with later issues) knowledge articles and known errors: one retriever
over pluggable corpora.

A corpus gives candidates for a text. For tickets, the database's full-text index (SQLite FTS5, PostgreSQL
tsvector) is asked, word by word, for up to WORD_HITS tickets holding each informative word of the text, the
newest first: a bounded read per word, however large the table. A word that returns fewer tickets than asked for
is rare and counts more; the tickets sharing the most weight are the candidates, with the reader's visibility
applied in SQL. The retriever re-ranks them with `LexicalIndex` (BM25 on stemmed words fused with character
grams by reciprocal rank) and, when the semantic backend is on, with sentence embeddings fused the same way.
Each hit carries a score (character-gram cosine, 0 to 1), the words it shares with the text and the passage
where they meet. A knowledge base is one more `Corpus` class, not new retrieval code.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from outcomedesk.accounts import policy
from outcomedesk.assist.retrieval import Document, LexicalIndex
from outcomedesk.core import clock
from outcomedesk.tickets import search
from outcomedesk.tickets.models import OPEN_STATES, State, Ticket

VERSION = "retriever-lexical-1"
QUERY_WORDS = 8  # informative words of the text looked up in the full-text index
WORD_HITS = 200  # newest tickets fetched per word
CANDIDATES = 60  # re-ranked per text
CHAR_PREFIX = 200  # characters of each candidate (title and opening) compared by character grams
DUPLICATE_WINDOW = timedelta(days=14)  # likely duplicates are among tickets opened this recently
DUPLICATE_MIN_SCORE = 0.45
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


def query_words(title: str, body: str = "", limit: int = QUERY_WORDS) -> list[str]:
    """Distinct words worth looking up: no stop words, no numbers; the title's first, then the body's longest
    (longer words are rarer)."""
    def distinct(text: str) -> list[str]:
        return list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS))

    words = distinct(title)
    words += sorted((w for w in distinct(body) if w not in words), key=lambda w: (-len(w), w))
    return words[:limit]


def candidate_ids(words: Sequence[str], limit: int) -> list[int]:
    """Tickets sharing the most (rarity-weighted) words, from one bounded full-text read per word."""
    weight: dict[int, float] = {}
    for ids in search.backend().word_ids(words, WORD_HITS).values():
        if not ids:
            continue
        # All of a rare word's tickets are here (fewer than asked for): it says more about the text.
        value = math.log(1 + 4 * WORD_HITS / len(ids))
        for pk in ids:
            weight[pk] = weight.get(pk, 0.0) + value
    return sorted(weight, key=lambda pk: (-weight[pk], -pk))[:limit]


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
    index = LexicalIndex([Document(e.key, f"{e.title}\n{e.body}") for e in entries], char_prefix=CHAR_PREFIX)
    by_key = {e.key: e for e in entries}
    scores = index.similarity(text)
    ranked = [key for key, _ in index.search(text, limit=len(entries))]
    # Candidates sharing nothing with the text come last: only the semantic backend can lift them.
    ranked += [e.key for e in entries if e.key not in set(ranked)]
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
    return semantic.fuse(ranked, similarity)


def version() -> str:
    from outcomedesk.assist import semantic

    encoder = semantic.encoder()
    return VERSION if encoder is None else f"{VERSION}+{encoder.name}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the tickets corpus -------------------------------------------------------------------------------------

def _ticket_entry(row: dict[str, Any]) -> Entry:
    return Entry(
        key=row["number"],
        title=row["title"],
        body="\n".join(p for p in (row["description"], row["resolution_notes"]) if p),
        extra={"state": row["state"], "resolution": row["resolution_notes"], "opened_at": row["opened_at"],
               "resolved_at": row["resolved_at"], "desk": row["desk_id"]},
    )


ENTRY_FIELDS = ("id", "number", "title", "description", "resolution_notes", "state", "opened_at", "resolved_at",
                "desk_id")


def _tickets(ids: Sequence[int], reader: Any | None, keep: Any) -> list[dict[str, Any]]:
    """The tickets of `ids` in that order that the reader may see and `keep` accepts. Visibility is one query
    over the ids (as ticket search does); no ORDER BY, so the database looks the ids up instead of walking an
    index of a million rows."""
    if not ids:
        return []
    if reader is not None:
        readable = policy.restrict(Ticket.objects.filter(pk__in=ids), reader)
        visible = set(readable.order_by().values_list("pk", flat=True))
        ids = [pk for pk in ids if pk in visible]
    rows = {r["id"]: r for r in Ticket.objects.filter(pk__in=ids).order_by().values(*ENTRY_FIELDS)}
    return [rows[pk] for pk in ids if pk in rows and keep(rows[pk])]


def _split(text: str) -> tuple[str, str]:
    title, _, body = text.partition("\n")
    return title, body


class ResolvedTickets:
    """Resolved and closed tickets the reader may see, found by their informative words."""

    name = "tickets"

    def __init__(self, reader: Any, exclude: int | None = None, desk_id: int | None = None) -> None:
        self.reader, self.exclude, self.desk_id = reader, exclude, desk_id

    def candidates(self, text: str, limit: int) -> list[Entry]:
        ids = candidate_ids(query_words(*_split(text)), limit * 2)

        def keep(t: dict[str, Any]) -> bool:
            return (t["state"] in (State.RESOLVED, State.CLOSED) and t["id"] != self.exclude
                    and (self.desk_id is None or t["desk_id"] == self.desk_id))

        return [_ticket_entry(t) for t in _tickets(ids, self.reader, keep)[:limit]]


class RecentOpenTickets:
    """Open tickets of one desk opened in the last two weeks: where a duplicate of a new ticket is."""

    name = "open-tickets"

    def __init__(self, ticket: Ticket, reader: Any | None = None) -> None:
        self.ticket, self.reader = ticket, reader

    def candidates(self, text: str, limit: int) -> list[Entry]:
        since = max(self.ticket.opened_at, clock.now()) - DUPLICATE_WINDOW
        ids = candidate_ids(query_words(*_split(text)), limit * 2)

        def keep(t: dict[str, Any]) -> bool:
            return (t["desk_id"] == self.ticket.desk_id and t["state"] in OPEN_STATES and t["opened_at"] >= since
                    and t["id"] != self.ticket.pk)

        return [_ticket_entry(t) for t in _tickets(ids, self.reader, keep)[:limit]]


def ticket_text(ticket: Ticket) -> str:
    return f"{ticket.title}\n{ticket.description}".strip()


def similar_resolved(reader: Any, ticket: Ticket, limit: int = 5) -> list[Hit]:
    """Resolved tickets like this one, with their resolution: what worked before."""
    return rank(ResolvedTickets(reader, exclude=ticket.pk), ticket_text(ticket), limit)


def likely_duplicates(ticket: Ticket, reader: Any | None = None, limit: int = 5) -> list[Hit]:
    """Open tickets of the same desk that report the same thing, most alike first."""
    return rank(RecentOpenTickets(ticket, reader), ticket_text(ticket), limit, min_score=DUPLICATE_MIN_SCORE)
