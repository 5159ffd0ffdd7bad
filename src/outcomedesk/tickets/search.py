"""Full-text search over tickets: SQLite FTS5 or PostgreSQL tsvector behind one interface.

The searchable text of a ticket lives in `SearchDocument`, kept current by the ticket services.
Each backend returns ticket ids best first; visibility is applied by the caller (`search_tickets`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from django.conf import settings
from django.db import connection
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat
from django.utils.module_loading import import_string

from outcomedesk.accounts import policy
from outcomedesk.core.html import html_to_text
from outcomedesk.tickets.models import Comment, SearchDocument, Ticket

_WORD = re.compile(r"\w+", re.UNICODE)
# Newest matches fetched for staff before the visibility filter: staff read every non-confidential desk, so
# a few hundred give a page of results; each candidate costs a bound parameter in the visibility query.
STAFF_CANDIDATES = 200
# A list filtered by text (the queue's `q`) also filters by group, state...: it looks further back.
FILTER_CANDIDATES = 2000


class SearchBackend(Protocol):
    def ranked_ids(self, query: str, limit: int, within: Sequence[int] | None = None) -> list[int]: ...

    def word_ids(self, words: Sequence[str], limit: int) -> dict[str, list[int]]: ...

    def install(self) -> None: ...


class SqliteFtsBackend:
    """FTS5 external-content table over tickets_searchdocument, kept in sync by triggers."""

    @staticmethod
    def match_expression(query: str) -> str:
        """Every word must occur (porter-stemmed, so "printers" finds "printer"); user syntax is not passed on."""
        words = _WORD.findall(query)
        return " ".join('"' + w.replace('"', "") + '"' for w in words)

    def ranked_ids(self, query: str, limit: int, within: Sequence[int] | None = None) -> list[int]:
        """The `limit` newest matches, newest first. FTS5 walks its doclists from the newest row and stops at
        the limit; ranking by bm25 would first read every match of each word (50 ms for a common word over a
        million tickets)."""
        expression = self.match_expression(query)
        if not expression:
            return []
        sql = "SELECT rowid FROM tickets_search_fts WHERE tickets_search_fts MATCH %s"
        params: list[Any] = [expression]
        if within is not None:
            if not within:
                return []
            sql += f" AND rowid IN ({','.join(['%s'] * len(within))})"
            params += list(within)
        sql += " ORDER BY rowid DESC LIMIT %s"
        params.append(limit)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    def word_ids(self, words: Sequence[str], limit: int) -> dict[str, list[int]]:
        """Per word, up to `limit` tickets holding it, newest first (FTS5 reads doclists from the newest)."""
        return {word: self.ranked_ids(word, limit) for word in words}

    def install(self) -> None:
        with connection.cursor() as cursor:
            for statement in SQLITE_DDL:
                cursor.execute(statement)

    def rebuild(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO tickets_search_fts(tickets_search_fts) VALUES('rebuild')")


class PostgresFtsBackend:
    """A stored tsvector column (kept by a trigger) with a GIN index; queries in web-search syntax.

    GIN returns matches unordered, so the newest matches are looked for among recent ids first: a common
    word fills that window (a bitmap AND of the GIN and primary-key indexes), a rare one is cheap to
    find across the whole table.
    """

    FIRST_WINDOW = 20_000

    def ranked_ids(self, query: str, limit: int, within: Sequence[int] | None = None) -> list[int]:
        if not _WORD.search(query):
            return []
        if within is not None and not within:
            return []
        within_clause = " AND ticket_id = ANY(%s)" if within is not None else ""
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(ticket_id), 0) FROM tickets_searchdocument")
            newest = cursor.fetchone()[0]
            found: list[int] = []
            # The recent window first; if it holds too few matches the words are rare, and the whole table
            # through the GIN index is cheap.
            for lowest in (newest - self.FIRST_WINDOW, 0):
                params: list[Any] = [query, lowest] + ([list(within)] if within is not None else []) + [limit]
                template = POSTGRES_RECENT_QUERY if lowest > 0 else POSTGRES_QUERY
                cursor.execute(template.format(within=within_clause), params)
                found = [row[0] for row in cursor.fetchall()]
                if len(found) >= limit or lowest <= 0:
                    break
            return found

    def word_ids(self, words: Sequence[str], limit: int) -> dict[str, list[int]]:
        """Per word, up to `limit` tickets holding it: the newest of the recent window, then, for a word rare
        there, any others (no ORDER BY: the scan stops at the limit instead of sorting every match). One
        statement per word and window: with the words in one statement (unnest, LATERAL) PostgreSQL planned
        it generically and read two to three times longer."""
        found: dict[str, list[int]] = {}
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(ticket_id), 0) FROM tickets_searchdocument")
            lowest = cursor.fetchone()[0] - self.FIRST_WINDOW
            for word in dict.fromkeys(words):
                if not _WORD.search(word):
                    continue
                cursor.execute(POSTGRES_RECENT_QUERY.format(within=""), [word, lowest, limit])
                ids = [row[0] for row in cursor.fetchall()]
                if len(ids) < limit and lowest > 0:
                    cursor.execute(POSTGRES_ANY_QUERY, [word, lowest, limit - len(ids)])
                    ids += [row[0] for row in cursor.fetchall()]
                found[word] = ids
        return found

    def install(self) -> None:
        with connection.cursor() as cursor:
            for statement in POSTGRES_SETUP:
                cursor.execute(statement)
            cursor.execute(POSTGRES_DDL)

    def rebuild(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("REINDEX INDEX tickets_searchdocument_fts")


SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS tickets_search_fts USING fts5(body, content='tickets_searchdocument', "
    "content_rowid='ticket_id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS tickets_search_ai AFTER INSERT ON tickets_searchdocument BEGIN "
    "INSERT INTO tickets_search_fts(rowid, body) VALUES (new.ticket_id, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_search_ad AFTER DELETE ON tickets_searchdocument BEGIN "
    "INSERT INTO tickets_search_fts(tickets_search_fts, rowid, body) VALUES('delete', old.ticket_id, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_search_au AFTER UPDATE ON tickets_searchdocument BEGIN "
    "INSERT INTO tickets_search_fts(tickets_search_fts, rowid, body) VALUES('delete', old.ticket_id, old.body); "
    "INSERT INTO tickets_search_fts(rowid, body) VALUES (new.ticket_id, new.body); END",
]
# The recent window: ORDER BY ... LIMIT on the primary key reads at most the window's rows.
POSTGRES_RECENT_QUERY = (
    "SELECT ticket_id FROM tickets_searchdocument WHERE vector @@ websearch_to_tsquery('english', %s)"
    " AND ticket_id > %s{within} ORDER BY ticket_id DESC LIMIT %s"
)
# The whole table: MATERIALIZED keeps PostgreSQL on the GIN index. With ORDER BY ... LIMIT pushed down it may
# instead walk the primary key backwards testing every row: for a rare word, the whole table (1.3 s at 1M).
POSTGRES_QUERY = (
    "WITH matches AS MATERIALIZED (SELECT ticket_id FROM tickets_searchdocument"
    " WHERE vector @@ websearch_to_tsquery('english', %s) AND ticket_id > %s{within})"
    " SELECT ticket_id FROM matches ORDER BY ticket_id DESC LIMIT %s"
)
# Older matches in no particular order: the bitmap scan stops at the limit.
POSTGRES_ANY_QUERY = (
    "SELECT ticket_id FROM tickets_searchdocument WHERE vector @@ websearch_to_tsquery('english', %s)"
    " AND ticket_id <= %s LIMIT %s"
)
POSTGRES_SETUP = [
    "ALTER TABLE tickets_searchdocument ADD COLUMN IF NOT EXISTS vector tsvector",
    "UPDATE tickets_searchdocument SET vector = to_tsvector('pg_catalog.english', body) WHERE vector IS NULL",
    "DROP TRIGGER IF EXISTS tickets_searchdocument_vector ON tickets_searchdocument",
    "CREATE TRIGGER tickets_searchdocument_vector BEFORE INSERT OR UPDATE OF body ON tickets_searchdocument "
    "FOR EACH ROW EXECUTE FUNCTION tsvector_update_trigger(vector, 'pg_catalog.english', body)",
]
POSTGRES_DDL = "CREATE INDEX IF NOT EXISTS tickets_searchdocument_fts ON tickets_searchdocument USING gin (vector)"


def backend() -> SearchBackend:
    path = settings.OUTCOMEDESK_SEARCH_BACKEND
    if path and path != "auto":
        backend_class: type[SearchBackend] = import_string(path)
        return backend_class()
    if connection.vendor == "postgresql":
        return PostgresFtsBackend()
    return SqliteFtsBackend()


def document_text(ticket: Ticket, comment_bodies: Iterable[str]) -> str:
    parts = [ticket.number, ticket.title, ticket.description]
    parts += [html_to_text(body) for body in comment_bodies]
    return "\n".join(p for p in parts if p)


def index_new_ticket(ticket: Ticket) -> None:
    """The search document of a ticket that has no comments yet."""
    SearchDocument.objects.create(ticket=ticket, body=document_text(ticket, []))


def append_to_document(ticket_id: int, html_body: str) -> None:
    """Add a new comment's text to its ticket's search document (one UPDATE instead of a rebuild)."""
    text = html_to_text(html_body)
    updated = SearchDocument.objects.filter(ticket_id=ticket_id).update(
        body=Concat(F("body"), Value("\n" + text), output_field=TextField())
    )
    if not updated:
        refresh_documents([ticket_id])


def refresh_documents(ticket_ids: Iterable[int]) -> int:
    """Rewrite the search documents of these tickets from their current text and comments."""
    ids = list(ticket_ids)
    bodies: dict[int, list[str]] = {}
    for ticket_id, body in Comment.objects.filter(ticket_id__in=ids).order_by("id").values_list("ticket_id", "body"):
        bodies.setdefault(ticket_id, []).append(body)
    documents = [
        SearchDocument(ticket_id=t.pk, body=document_text(t, bodies.get(t.pk, [])))
        for t in Ticket.objects.filter(pk__in=ids).only("id", "number", "title", "description")
    ]
    SearchDocument.objects.bulk_create(
        documents, update_conflicts=True, unique_fields=["ticket"], update_fields=["body"]
    )
    return len(documents)


NUMBER = re.compile(r"^\s*(INC|REQ)\d{1,10}\s*$", re.IGNORECASE)


def search_tickets(user: Any, query: str, limit: int = 20) -> list[Ticket]:
    """Tickets matching `query` (a number, or words) that `user` may read, best first."""
    query = query.strip()
    if not query:
        return []
    related = ("desk", "requester", "assignee", "group")
    if NUMBER.match(query):
        return list(policy.restrict(Ticket.objects.all(), user).filter(number=query.upper())
                    .select_related(*related))
    visible_tickets = policy.restrict(Ticket.objects.all(), user)
    within: list[int] | None = None
    if not policy.desk_ids(user, policy.VIEW):
        # A requester's own tickets are few: search only those.
        within = list(visible_tickets.values_list("pk", flat=True)[:10000])
    ids = backend().ranked_ids(query, limit=STAFF_CANDIDATES if within is None else limit, within=within)
    if not ids:
        return []
    # Visibility in SQL over the candidates' ids (no ORDER BY: with one, SQLite may walk the whole table
    # backwards by id instead of looking the candidates up); only the tickets shown are loaded.
    visible = set(visible_tickets.filter(pk__in=ids).order_by().values_list("pk", flat=True))
    shown = [i for i in ids if i in visible][:limit]
    found = {t.pk: t for t in Ticket.objects.filter(pk__in=shown).select_related(*related)}
    return [found[i] for i in shown]
