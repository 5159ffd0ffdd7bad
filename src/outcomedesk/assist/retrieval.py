"""Lexical retrieval with no download: BM25 over words (lightly stemmed) fused with TF-IDF over character
3-5-grams by reciprocal rank. Words find what shares the vocabulary; character grams hold up against typos,
inflections and compounds ("removing" / "remove", "passwort" / "password"). A corpus is any list of
documents (tickets, knowledge articles, known errors): each is one more corpus, not new code.

The optional semantic backend (sentence embeddings, issue 5) re-ranks what this finds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer
from sklearn.pipeline import make_pipeline

RRF_K = 60  # reciprocal-rank fusion constant (Cormack et al. 2009)
WORD = re.compile(r"(?u)\b\w\w+\b")
SUFFIXES = ("ations", "ation", "ings", "ing", "ness", "ment", "ies", "ied", "ers", "er", "ed", "es", "ly", "s")


class RetrievalError(ValueError):
    """The corpus or the query cannot be used; the message says why."""


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light English suffix stripper: enough to meet "removing" and "remove", "accounts" and "account"."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> list[str]:
    return [stem(w) for w in WORD.findall(text.lower())]


@dataclass(frozen=True)
class Document:
    id: str
    text: str


class LexicalIndex:
    """BM25 (k1 1.2, b 0.75) over stemmed words and cosine over character grams, fused by reciprocal rank."""

    def __init__(self, documents: Sequence[Document], k1: float = 1.2, b: float = 0.75,
                 char_prefix: int | None = None) -> None:
        """`char_prefix`: character grams of the first so many characters of each document only (its title and
        opening), which bounds the cost of re-ranking long documents on the fly."""
        if not documents:
            raise RetrievalError("the corpus is empty")
        texts = [d.text for d in documents]
        if not any(t.strip() for t in texts):
            raise RetrievalError("every document of the corpus is empty")
        self.ids = [d.id for d in documents]
        self.position = {doc_id: i for i, doc_id in enumerate(self.ids)}
        self.counter = CountVectorizer(analyzer=words)
        counts = self.counter.fit_transform(texts).tocsc().astype(np.float64)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        average = lengths.mean() or 1.0
        frequency = np.diff(counts.indptr)
        n = counts.shape[0]
        self.idf = np.log(1 + (n - frequency + 0.5) / (frequency + 0.5))
        # BM25 term weights per (document, term), precomputed: a query is a sparse product.
        rows = counts.tocsr()
        scale = k1 * (1 - b + b * lengths / average)
        data = rows.data * (k1 + 1) / (rows.data + np.repeat(scale, np.diff(rows.indptr)))
        self.bm25 = sparse.csr_matrix((data, rows.indices, rows.indptr), shape=rows.shape)
        # Hashed grams weighted by IDF: the same cosine as a fitted TF-IDF vocabulary, without building one (the
        # vocabulary's sorting was most of the cost of re-ranking a hundred candidates on the fly).
        self.chars = make_pipeline(
            HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**20, alternate_sign=False,
                              norm=None),
            TfidfTransformer(sublinear_tf=True),
        )
        self.char_prefix = char_prefix
        self.char_matrix = self.chars.fit_transform([t[:char_prefix] for t in texts] if char_prefix else texts)

    def _lexical(self, text: str) -> np.ndarray:
        query = self.counter.transform([text])
        query.data = np.ones_like(query.data, dtype=np.float64)
        weights = query.multiply(self.idf).tocsr()
        return np.asarray((self.bm25 @ weights.T).todense()).ravel()

    def _characters(self, text: str) -> np.ndarray:
        query = text[: self.char_prefix] if self.char_prefix else text
        return np.asarray((self.char_matrix @ self.chars.transform([query]).T).todense()).ravel()

    def similarity(self, text: str) -> np.ndarray:
        """Cosine of `text` and each document over character grams, 0 to 1: a score people can read."""
        return self._characters(text)

    def shared_words(self, text: str, doc_id: str, limit: int = 8) -> list[str]:
        """The words of `text` that the document also has, rarest first, as `text` spells them."""
        surface: dict[str, str] = {}
        for word in WORD.findall(text.lower()):
            surface.setdefault(stem(word), word)
        vocabulary = self.counter.vocabulary_
        row = self.bm25[self.position[doc_id]]
        present = {int(i) for i in row.indices}
        shared = [(self.idf[vocabulary[s]], w) for s, w in surface.items()
                  if s in vocabulary and vocabulary[s] in present]
        return [w for _, w in sorted(shared, key=lambda pair: (-pair[0], pair[1]))[:limit]]

    def search(self, text: str, limit: int = 10, candidates: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """The best documents for `text`, best first, with their fused score; only `candidates` if given."""
        if limit < 1:
            raise RetrievalError("limit must be 1 or more")
        pool = np.arange(len(self.ids))
        if candidates is not None:
            pool = np.asarray([self.position[c] for c in candidates if c in self.position], dtype=int)
            if pool.size == 0:
                return []
        fused = np.zeros(len(self.ids))
        for scores in (self._lexical(text), self._characters(text)):
            ranked = pool[np.argsort(-scores[pool], kind="stable")]
            ranked = ranked[scores[ranked] > 0]
            fused[ranked] += 1.0 / (RRF_K + np.arange(1, ranked.size + 1))
        order = pool[np.argsort(-fused[pool], kind="stable")]
        order = order[fused[order] > 0][:limit]
        return [(self.ids[i], float(fused[i])) for i in order]
