"""BERT's uncased WordPiece tokenizer (the "basic" split, then greedy longest match),
as Hugging Face's BertTokenizer does it with do_lower_case=True, in pure Python."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from pathlib import Path

__all__ = ["WordPiece"]

MAX_WORD_CHARS = 100


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def _clean(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if code in (0, 0xFFFD):
            continue
        category = unicodedata.category(char)
        if char in "\t\n\r" or category == "Zs":
            out.append(" ")
        elif category.startswith("C"):
            continue
        elif _is_cjk(code):
            out.extend((" ", char, " "))
        else:
            out.append(char)
    return "".join(out)


def basic_split(text: str) -> list[str]:
    """Lower-cased, accents stripped, split on white space and around punctuation."""
    words: list[str] = []
    for token in _clean(text).split():
        token = unicodedata.normalize("NFD", token.lower())
        token = "".join(c for c in token if unicodedata.category(c) != "Mn")
        current: list[str] = []
        for char in token:
            if _is_punctuation(char):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(char)
            else:
                current.append(char)
        if current:
            words.append("".join(current))
    return words


class WordPiece:
    """Token ids for a vocabulary file (one piece a line, ids by line number)."""

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self.ids: dict[str, int] = {piece: i for i, piece in enumerate(vocabulary)}
        self.unknown = self.ids["[UNK]"]
        self.cls = self.ids["[CLS]"]
        self.sep = self.ids["[SEP]"]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_file(cls, path: Path) -> WordPiece:
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls(line.rstrip("\n") for line in lines)

    def word_ids(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is None:
            cached = self._greedy(word) if len(word) <= MAX_WORD_CHARS else [self.unknown]
            if len(self._cache) < 100_000:
                self._cache[word] = cached
        return cached

    def _greedy(self, word: str) -> list[int]:
        """Longest known piece first, then "##" continuations; [UNK] if a rest fails."""
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.ids.get(piece)
                if found is not None:
                    pieces.append(found)
                    break
                end -= 1
            else:
                return [self.unknown]
            start = end
        return pieces

    def encode(self, text: str, max_length: int = 128) -> list[int]:
        """[CLS] pieces... [SEP], cut to max_length ids in all."""
        ids = [self.cls]
        for word in basic_split(text):
            ids.extend(self.word_ids(word))
        return [*ids[: max_length - 1], self.sep]
