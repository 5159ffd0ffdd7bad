"""Pattern detection among recent incidents: clusters that no problem covers (problem candidates), clusters
that no knowledge draft answers (knowledge gaps), and categories or services whose volume jumped (spikes).

Clusters: incidents of one desk opened in the last two weeks are linked when their text is alike (cosine of
TF-IDF over words and character grams at least LINK), they were opened within a week of each other, and they
do not name different business services; a cluster is a connected group of three or more. Configuration items
join the key when tickets carry them (the CMDB issue). Each run updates the patterns it found before (same
signature) instead of adding new rows, and never reopens one that a person dismissed.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from outcomedesk.accounts.models import Desk
from outcomedesk.assist import similar
from outcomedesk.assist.models import DraftStatus, Feature, KnowledgeDraft, Pattern, PatternKind, PatternStatus
from outcomedesk.assist.switches import is_enabled
from outcomedesk.core import clock
from outcomedesk.tickets.models import PendingReason, Ticket, TicketType

VERSION = "patterns-1"
WINDOW = timedelta(days=14)
NEAR = timedelta(days=7)
LINK = 0.4
MIN_CLUSTER = 3
MAX_TICKETS = 5000  # newest incidents of a desk clustered per run
GAP_SCORE = 0.35  # a cluster whose best draft is less alike than this is a knowledge gap
SPIKE_DAY = timedelta(days=1)
BASELINE_DAYS = 28
SPIKE_MIN = 3


@dataclass(frozen=True)
class Cluster:
    tickets: list[Ticket]
    words: list[str]
    service: str | None


def _vectorize(texts: Sequence[str]) -> Any:
    union = FeatureUnion([
        ("words", TfidfVectorizer(sublinear_tf=True, stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b")),
        ("chars", TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(3, 5))),
    ])
    matrix = union.fit_transform(texts)
    # Both parts are unit vectors: halve their sum's square norm so that the dot product is the mean cosine.
    return matrix * (1 / math.sqrt(2)), union


def clusters(tickets: Sequence[Ticket]) -> list[Cluster]:
    """Connected groups of MIN_CLUSTER or more alike incidents, largest first."""
    if len(tickets) < MIN_CLUSTER:
        return []
    texts = [f"{t.title}\n{t.description}" for t in tickets]
    try:
        matrix, union = _vectorize(texts)
    except ValueError:  # no word in any text
        return []
    alike = (matrix @ matrix.T).tocoo()
    opened = np.asarray([t.opened_at.timestamp() for t in tickets])
    services = [t.service_id for t in tickets]
    keep = ((alike.data >= LINK) & (alike.row != alike.col)
            & (np.abs(opened[alike.row] - opened[alike.col]) <= NEAR.total_seconds()))
    rows, cols = alike.row[keep], alike.col[keep]
    same = np.asarray([services[r] is None or services[c] is None or services[r] == services[c]
                       for r, c in zip(rows, cols, strict=True)], dtype=bool)
    graph = coo_matrix((np.ones(int(same.sum())), (rows[same], cols[same])), shape=(len(tickets), len(tickets)))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[int(label)].append(index)
    vocabulary = union.transformer_list[0][1]
    names = vocabulary.get_feature_names_out()
    word_matrix = vocabulary.transform(texts)
    found = []
    for members in groups.values():
        if len(members) < MIN_CLUSTER:
            continue
        weights = np.asarray((word_matrix[members] > 0).sum(axis=0)).ravel()
        top = [str(names[i]) for i in np.argsort(-weights)[:5] if weights[i] >= max(2, len(members) // 2)]
        named = Counter(str(tickets[i].service) for i in members if tickets[i].service is not None)
        service = named.most_common(1)[0][0] if named else None
        found.append(Cluster([tickets[i] for i in sorted(members, key=lambda i: tickets[i].opened_at)], top,
                             service))
    return sorted(found, key=lambda c: -len(c.tickets))


def _covered(cluster: Cluster) -> bool:
    """Half or more of its incidents already hang under a parent, a duplicate or a problem."""
    covered = sum(1 for t in cluster.tickets
                  if t.parent_id or t.duplicate_of_id or t.pending_reason == PendingReason.PROBLEM)
    return covered * 2 >= len(cluster.tickets)


def _signature(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _evidence(cluster: Cluster) -> dict[str, Any]:
    return {"tickets": [t.number for t in cluster.tickets], "words": cluster.words, "service": cluster.service,
            "first": cluster.tickets[0].opened_at.isoformat(), "last": cluster.tickets[-1].opened_at.isoformat()}


class DraftCorpus:
    """Knowledge drafts of a desk that are not rejected: the knowledge base until issue 6 brings articles."""

    name = "knowledge-drafts"

    def __init__(self, desk_id: int) -> None:
        self.desk_id = desk_id

    def candidates(self, text: str, limit: int) -> list[similar.Entry]:
        rows = (KnowledgeDraft.objects.filter(desk_id=self.desk_id).exclude(status=DraftStatus.REJECTED)
                .order_by("-created_at")[:limit])
        return [similar.Entry(str(d.pk), d.title, f"{d.symptoms}\n{d.resolution}") for d in rows]


def _spikes(desk: Desk, now: datetime) -> list[dict[str, Any]]:
    """Categories and services with more incidents in the last day than their last four weeks make usual."""
    start = now - SPIKE_DAY - timedelta(days=BASELINE_DAYS)
    found = []
    for key, label in (("category", "category__name"), ("service", "service__name")):
        rows = (Ticket.objects.filter(desk=desk, type=TicketType.INCIDENT, opened_at__gte=start, opened_at__lt=now)
                .exclude(**{f"{key}__isnull": True})
                .values(f"{key}_id", label)
                .annotate(recent=Count("id", filter=_recent(now)), total=Count("id")))
        for row in rows:
            recent, baseline_total = row["recent"], row["total"] - row["recent"]
            usual = baseline_total / BASELINE_DAYS
            # Poisson noise around the usual day, never less than one ticket's worth.
            limit = usual + 3 * max(math.sqrt(usual), 1.0)
            if recent >= SPIKE_MIN and recent > limit:
                found.append({"by": key, "id": row[f"{key}_id"], "name": row[label], "recent": recent,
                              "usual_per_day": round(usual, 2), "limit": round(limit, 2)})
    return found


def _recent(now: datetime) -> Any:
    from django.db.models import Q

    return Q(opened_at__gte=now - SPIKE_DAY)


def detect(desk: Desk, now: datetime | None = None) -> list[Pattern]:
    """One run over one desk; returns the patterns found or refreshed."""
    if not is_enabled(Feature.PATTERNS):
        return []
    now = now or clock.now()
    incidents = list(
        Ticket.objects.filter(desk=desk, type=TicketType.INCIDENT, opened_at__gte=now - WINDOW, opened_at__lt=now)
        .select_related("service").order_by("-opened_at")[:MAX_TICKETS]
    )
    found: list[tuple[str, str, str, float, dict[str, Any]]] = []
    corpus = DraftCorpus(desk.pk)
    for cluster in clusters(incidents):
        first = cluster.tickets[0]
        words = ", ".join(cluster.words) or first.title
        evidence = _evidence(cluster)
        if not _covered(cluster):
            found.append((PatternKind.PROBLEM_CANDIDATE, _signature("cluster", first.pk),
                          f"{len(cluster.tickets)} alike incidents: {words}", float(len(cluster.tickets)), evidence))
        best = similar.rank(corpus, "\n".join(t.title for t in cluster.tickets), limit=1)
        if not best or best[0].score < GAP_SCORE:
            gap = dict(evidence, best_draft=best[0].entry.key if best else None,
                       best_score=best[0].score if best else None)
            found.append((PatternKind.KNOWLEDGE_GAP, _signature("gap", first.pk),
                          f"No article answers {len(cluster.tickets)} incidents about {words}",
                          float(len(cluster.tickets)), gap))
    for spike in _spikes(desk, now):
        found.append((PatternKind.SPIKE, _signature("spike", spike["by"], spike["id"], now.date()),
                      f"{spike['recent']} {spike['name']} incidents in a day, usually {spike['usual_per_day']}",
                      spike["recent"] / max(spike["usual_per_day"], 1.0), spike))
    kept = []
    with transaction.atomic():
        for kind, signature, title, score, evidence in found:
            row, created = Pattern.objects.get_or_create(
                desk=desk, kind=kind, signature=signature,
                defaults={"title": title[:200], "score": score, "evidence": evidence, "version": VERSION,
                          "first_seen": now, "last_seen": now},
            )
            if not created:
                row.title, row.score, row.evidence, row.last_seen = title[:200], score, evidence, now
                row.save(update_fields=["title", "score", "evidence", "last_seen"])
            if row.status == PatternStatus.OPEN:
                kept.append(row)
    return kept


def detect_all(now: datetime | None = None) -> int:
    return sum(len(detect(desk, now)) for desk in Desk.objects.filter(is_active=True))


def decide(actor: Any, pattern_id: int, status: str) -> Pattern:
    """A desk's agent marks a pattern dismissed (not a pattern) or acted on (a problem was raised, an article
    written); a dismissed pattern stays dismissed in later runs."""
    from outcomedesk.accounts import policy
    from outcomedesk.core.audit import AuditBatch
    from outcomedesk.core.errors import InvalidInput, NotAllowed, NotFound
    from outcomedesk.core.models import Channel

    row = Pattern.objects.filter(pk=pattern_id).first()
    if row is None or not policy.can(actor, policy.VIEW, row):
        raise NotFound(f"no pattern {pattern_id}", field="pattern")
    if not policy.can(actor, policy.WORK, row):
        raise NotAllowed(f"only agents of the {row.desk.name} desk decide its patterns")
    if status not in (PatternStatus.DISMISSED, PatternStatus.ACTED):
        raise InvalidInput({"status": f"must be dismissed or acted, not {status!r}"})
    now = clock.now()
    with transaction.atomic():
        old = row.status
        row.status, row.decided_by = status, actor
        row.save(update_fields=["status", "decided_by"])
        audit = AuditBatch("assist_pattern", row.pk, actor.pk, Channel.WEB, now)
        audit.add("decided", "status", old, status)
        audit.save()
    return row
