"""TF-IDF over word uni- and bigrams and character 2-5-grams inside word boundaries.

Character n-grams carry Turkish suffixes, Polish inflection and typos; words carry the
rest. Lower-cased with accents stripped, so "sifre" and "şifre" share most n-grams.
Saved as JSON (vocabulary and IDF weights), never pickled: a model file is data, not code.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["NgramFeatures"]

ANALYZERS: dict[str, dict[str, Any]] = {
    "word": {"analyzer": "word", "ngram_range": (1, 2)},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 5)},
}


def _vectorizer(kind: str, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        **ANALYZERS[kind],
        lowercase=True,
        strip_accents="unicode",
        sublinear_tf=True,
        dtype=np.float32,
        vocabulary=vocabulary,
    )


class NgramFeatures:
    """One sparse row per text: the word block, then the character block."""

    def __init__(self, vectorizers: dict[str, TfidfVectorizer]) -> None:
        self.vectorizers = vectorizers
        self._blocks: list[tuple[Callable[[str], list[str]], dict[str, int], list[float], int]] = []
        offset = 0
        for vectorizer in vectorizers.values():
            vocabulary = vectorizer.vocabulary_  # fitted, or set by load's idf_
            analyze = vectorizer.build_analyzer()
            idf = [float(x) for x in vectorizer.idf_]
            self._blocks.append((analyze, dict(vocabulary), idf, offset))
            offset += len(vocabulary)
        self.size = offset

    @classmethod
    def fit(cls, texts: list[str]) -> NgramFeatures:
        vectorizers = {kind: _vectorizer(kind) for kind in ANALYZERS}
        for vectorizer in vectorizers.values():
            vectorizer.fit(texts)
        return cls(vectorizers)

    def transform(self, texts: list[str]) -> scipy.sparse.csr_matrix:
        """What TfidfVectorizer.transform gives (sublinear counts times IDF, each block of
        unit length), built directly: scikit-learn's checks cost milliseconds a message."""
        columns: list[int] = []
        values: list[float] = []
        pointers = [0]
        for text in texts:
            for analyze, vocabulary, idf, offset in self._blocks:
                counts = Counter(vocabulary[g] for g in analyze(text) if g in vocabulary)
                if not counts:
                    continue
                indices = sorted(counts)
                weights = [(1.0 + math.log(counts[i])) * idf[i] for i in indices]
                norm = math.sqrt(sum(w * w for w in weights))
                columns.extend(offset + i for i in indices)
                values.extend(w / norm for w in weights)
            pointers.append(len(columns))
        return scipy.sparse.csr_matrix(
            (np.asarray(values, dtype=np.float32), np.asarray(columns, dtype=np.int32), pointers),
            shape=(len(texts), self.size),
        )

    def transform_reference(self, texts: list[str]) -> scipy.sparse.csr_matrix:
        """scikit-learn's own transform, block by block (for tests)."""
        blocks = [v.transform(texts) for v in self.vectorizers.values()]
        return scipy.sparse.hstack(blocks, format="csr", dtype=np.float32)

    def save(self, path: Path) -> None:
        data = {
            kind: {
                "vocabulary": {term: int(i) for term, i in v.vocabulary_.items()},
                "idf": [float(x) for x in v.idf_],
            }
            for kind, v in self.vectorizers.items()
        }
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> NgramFeatures:
        data = json.loads(path.read_text(encoding="utf-8"))
        vectorizers = {}
        for kind in ANALYZERS:
            vectorizer = _vectorizer(kind, data[kind]["vocabulary"])
            vectorizer.idf_ = np.asarray(data[kind]["idf"], dtype=np.float32)
            vectorizers[kind] = vectorizer
        return cls(vectorizers)
