"""Choose the language (en, tr or pl) Köprü answers in, one customer message at a time."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any, Final

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

SUPPORTED: Final = ("en", "tr", "pl")
DEFAULT_LANGUAGE: Final = "en"

# Languages lingua may answer with besides ours, so that a German or Russian message is
# recognised as "other" (answered in English) instead of being squeezed into en/tr/pl.
# Close relatives are left out on purpose: with Azerbaijani (az) or Czech/Slovak (cs, sk)
# among the candidates, Turkish and Polish typed without diacritics ("siparisim nerede",
# "dziekuje") lose much of their confidence to them, and those speakers are better served
# in Turkish/Polish than in English anyway.  Arabic and Chinese have a script of their own
# here, so lingua's rule engine decides them without loading any model.
OTHER_LANGUAGES: Final = ("de", "fr", "es", "it", "pt", "nl", "ru", "uk", "ar", "zh")
CANDIDATES: Final = SUPPORTED + OTHER_LANGUAGES

# Thresholds below were tuned on ~340 hand-labelled support messages (en/tr/pl with and
# without diacritics, other languages, one-word replies) against lingua 2.1.1 in high
# accuracy mode; each value sits inside the range where none of those messages changes
# outcome, not on its edge.  lingua's confidences are a distribution over CANDIDATES,
# and on the short texts typical of chat they are flat: "where is my order" is only
# en=0.42 (German and Dutch take the rest), "kargom nerede" is tr=0.25 with it=0.28.

# Fewer letters than this say nothing about the language ("ok", "k", "no", "da").
MIN_LETTERS = 3

# A several-word message switches to another supported language when that language has
# at least this much confidence...  Diacritic-free Turkish leaks to Italian/Spanish and
# short English to German/Dutch, so the genuine language often gets only 0.2-0.3; 0.25
# already loses "kargo nerde" (tr=0.23).  Going lower is safe only together with the
# ratio below: English messages can still hand Polish 0.1-0.26 ("return policy").
SWITCH_FLOOR = 0.15

# ...and at least this many times the confidence of the language we are already using.
# This is the conversation's inertia: "refund status" (en=0.23, pl=0.18) does not pull a
# Polish conversation into English, "return policy" (en=0.59, pl=0.26) does.  Above
# 2.3 that last one would stop switching.
STICKY_RATIO = 1.5

# One word is weak evidence, and one-word messages are mostly replies to the bot
# ("tak", "evet", "thanks").  Flipping a running conversation on one needs lingua to be
# nearly certain: observed confidences for single words leave a gap between 0.79 and
# 0.87, above it sit unmistakable words ("tamam" 0.96, "zwrot" 0.90, "hayir" 0.90), below
# it loan words and brand names such as "sorry" (en 0.68), "trendyol" (pl 0.61),
# "gracias" (es 0.68) and the shared yes/no words ("tak" pl 0.37 / tr 0.35).
SINGLE_WORD_FLOOR = 0.80

# With no conversation language yet there is no inertia to protect, and the greeting that
# opens a chat is often one word: "merhaba" is only tr=0.58 but should open in Turkish.
FIRST_SINGLE_WORD_FLOOR = 0.50

# "Confidently another language": the best non-supported language needs this much...
# Real German/French/Spanish sentences score 0.45-0.95, while Romance languages stealing
# from diacritic-free Turkish/Polish stay below 0.3 on several words ("kargom nerede").
OTHER_FLOOR = 0.35

# ...and must beat every supported language this many times over, so "kargom nerede"
# (it=0.28 vs tr=0.25) stays Turkish while "Grazie mille" (it=0.46 vs pl=0.15) does not
# count as Polish.
OTHER_DOMINANCE = 2.0

# If no supported language keeps even this much, lingua's rule engine excluded them all
# from the script alone (Cyrillic, Arabic, Chinese): certainly not en/tr/pl, whatever the
# length.
SCRIPT_EXCLUDED = 0.01

# The client's language (e.g. Telegram's language_code) only breaks near-ties between
# Turkish and Polish (within 30%, e.g. "bank karta" tr=0.25 / pl=0.23): it tells us
# about the device, not about what the customer typed.
HINT_BOOST = 1.3

# Strip what carries letters but no language: links, e-mail addresses, @mentions,
# #order refs and any token containing a digit (order numbers such as "TR-204518",
# phone numbers, postcodes, "3kg").  Sentence punctuation is left in place for
# ``_SENTENCE_END_RE``.
_NOISE_RE = re.compile(
    r"""
      https?://\S+ | www\.\S+
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+
    | [@#]\w+
    | [^\s.!?]*\d[^\s.!?]*
    """,
    re.VERBOSE,
)
_SENTENCE_END_RE = re.compile(r"[.!?…\n]+")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_REPEATS_RE = re.compile(r"(.)\1{2,}")
_LAUGHTER_RE = re.compile(r"(?:ha|he|hi|xa){2,}h?|x+d+")
# Written the same way by English, Turkish and Polish customers, so they are no evidence;
# lingua reads "okay" as tr=0.56 and "okej" as pl=0.69, which would be wrong flips.
_NEUTRAL_WORDS: Final = frozenset(
    {"ok", "okay", "okey", "okej", "oki", "okie", "k", "kk", "lol", "hm", "hmm", "mhm", "um"}
)


class LanguageDetector:
    """lingua restricted to a fixed set of ISO 639-1 codes, returning plain dicts.

    Building is cheap: lingua loads its n-gram models lazily, on the first text of each
    script; see ``warm_up`` to take that cost at start-up instead.
    Instances are thread-safe, and lingua shares loaded models between instances.
    """

    def __init__(self, languages: Iterable[str] = CANDIDATES) -> None:
        self.languages: tuple[str, ...] = tuple(languages)
        lingua_languages = [
            Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in self.languages
        ]
        self._detector: Any = LanguageDetectorBuilder.from_languages(*lingua_languages).build()

    def confidences(self, text: str) -> dict[str, float]:
        """Confidence per language code for ``text``; the values sum to 1 (or are all 0)."""
        return {
            str(value.language.iso_code_639_1.name).lower(): float(value.value)
            for value in self._detector.compute_language_confidence_values(text)
        }

    def warm_up(self) -> None:
        """Load the Latin-script models now, which any en/tr/pl text needs anyway.

        That first detection takes 1-2 s and ~250 MB RSS; better spent at start-up than
        on a customer's first message.  lingua's ``with_preloaded_language_models`` is
        not used: it also loads the Cyrillic, Arabic and Chinese models (~110 MB more),
        and the last two are never consulted because their script alone decides them.
        The Cyrillic ones (~50 MB) load with the first Cyrillic message, in ~0.3 s.
        """
        self.confidences("where is my order")


@functools.cache
def default_detector() -> LanguageDetector:
    """The process-wide detector over ``CANDIDATES``, created on first use."""
    return LanguageDetector()


def normalise_language_code(code: str | None) -> str | None:
    """Map "pl-PL", "tr_TR" or "EN" to a supported code; anything else to None."""
    if not code:
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return primary if primary in SUPPORTED else None


def content_words(text: str) -> list[str]:
    """The words of ``text`` that can say something about its language."""
    words: list[str] = []
    names: list[bool] = []
    for sentence in _SENTENCE_END_RE.split(_NOISE_RE.sub(" ", text)):
        for position, word in enumerate(_WORD_RE.findall(sentence)):
            folded = _REPEATS_RE.sub(r"\1", word.lower())
            if folded in _NEUTRAL_WORDS or _LAUGHTER_RE.fullmatch(folded):
                continue
            words.append(word)
            names.append(position > 0 and word.istitle() and len(word) > 1)
    # Capitalised words inside a sentence are names, streets and cities, and lingua's
    # rule engine scores any word with a letter only Turkish or Polish uses as certain:
    # "Hi, my address is Bağdat Caddesi, Kadıköy" is tr=1.0 and "I live in Gdańsk"
    # tr=0.32.  So they are dropped, and a message made only of capitalised words
    # ("Ayşe Yılmaz", the usual answer to "what name is the order under?") has no
    # language at all.  Phones capitalise the first word of a sentence, so that one stays.
    if len(words) > 1 and all(word.istitle() for word in words):
        return []
    return [word for word, is_name in zip(words, names, strict=True) if not is_name]


def choose_language(
    text: str,
    current: str | None,
    hint: str | None = None,
    detector: LanguageDetector | None = None,
) -> str:
    """The language of ``SUPPORTED`` to answer in after the customer sent ``text``.

    ``current`` is the conversation's language so far (None before the first message),
    ``hint`` the client's language code if it reports one.  Without enough signal the
    answer is ``current``, else ``hint``, else English; languages other than ours are
    answered in English.
    """
    current_code = normalise_language_code(current)
    hint_code = normalise_language_code(hint)
    baseline = current_code or hint_code or DEFAULT_LANGUAGE

    if text.lstrip().startswith("/"):  # a Rasa button payload such as /affirm
        return baseline
    words = content_words(text)
    if sum(len(word) for word in words) < MIN_LETTERS:
        return baseline

    confidences = (detector or default_detector()).confidences(" ".join(words))
    ours = {code: confidences.get(code, 0.0) for code in SUPPORTED}
    if sum(ours.values()) < SCRIPT_EXCLUDED:
        return DEFAULT_LANGUAGE

    best = max(SUPPORTED, key=lambda code: ours[code] * (HINT_BOOST if code == hint_code else 1))
    other = max((p for code, p in confidences.items() if code not in SUPPORTED), default=0.0)
    single_word = len({word.lower() for word in words}) == 1
    if single_word:
        floor = SINGLE_WORD_FLOOR if current_code else FIRST_SINGLE_WORD_FLOOR
        other_floor = floor
    else:
        floor = SWITCH_FLOOR
        other_floor = OTHER_FLOOR

    if other >= other_floor and other >= OTHER_DOMINANCE * ours[best]:
        return DEFAULT_LANGUAGE
    if best == baseline or ours[best] < floor:
        return baseline
    if ours[best] < STICKY_RATIO * ours[baseline]:
        return baseline
    return best
