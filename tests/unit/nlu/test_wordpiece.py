"""BERT's uncased WordPiece tokenizer, in pure Python (bot.nlu.wordpiece)."""

from __future__ import annotations

import pytest

from bot.nlu.minilm import model_directory
from bot.nlu.wordpiece import WordPiece, basic_split

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "order", "?", "my", "s"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Where is MY order?", ["where", "is", "my", "order", "?"]),
        ("Şifremi unuttum", ["sifremi", "unuttum"]),  # accents stripped, lower-cased
        ("zamówienie\u200b", ["zamowienie"]),  # a zero-width space (format char) dropped
        ("can't", ["can", "'", "t"]),
        ("a\tb\nc", ["a", "b", "c"]),
        ("中文", ["中", "文"]),  # CJK characters stand alone
        ("", []),
    ],
)
def test_the_basic_split_lowers_strips_accents_and_splits_punctuation(
    text: str, words: list[str]
) -> None:
    assert basic_split(text) == words


def test_greedy_longest_match_with_continuations_and_unknown_words() -> None:
    pieces = WordPiece(VOCABULARY)
    assert pieces.word_ids("unaffable") == [4, 5, 6]
    assert pieces.word_ids("xyz") == [1]  # no piece fits: the whole word is unknown
    assert pieces.word_ids("unx") == [1]  # a rest that fits nothing spoils the word
    assert pieces.word_ids("a" * 101) == [1]  # too long to split


def test_encode_frames_the_pieces_and_cuts_to_the_maximum() -> None:
    pieces = WordPiece(VOCABULARY)
    assert pieces.encode("my order?") == [2, 9, 7, 8, 3]
    assert pieces.encode("my order? my order?", max_length=4) == [2, 9, 7, 3]


def test_the_shipped_vocabulary_splits_known_and_rare_words() -> None:
    pieces = WordPiece.from_file(model_directory() / "vocab.txt")
    ids = pieces.encode("Where is my order?")
    assert ids[0] == pieces.cls and ids[-1] == pieces.sep
    assert len(ids) == 7  # where is my order ? plus the frame
    assert pieces.unknown not in pieces.encode("gdzie jest moje zamówienie")
