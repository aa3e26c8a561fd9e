"""The checks an admin's change must pass before anything is written, and the audit of the
data as it is (duplicates, conflicting examples)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from bot.authoring.training_data._examples import clean_example, normalise_example
from bot.authoring.training_data._problems import Problem
from bot.authoring.training_data._summary import NluSnapshot

__all__ = ["INTENT_NAME", "MAX_EXAMPLE_CHARS", "NluChecks", "annotation_problems"]

MAX_EXAMPLE_CHARS: Final = 500
INTENT_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*(/[a-z0-9_]+)?$")

# Rasa's own intents (rasa.shared.core.constants.DEFAULT_INTENTS) and words YAML 1.1
# readers (PyYAML) turn into booleans or null: neither can be a new intent's name.
_RESERVED_NAMES: Final = frozenset(
    {"restart", "back", "out_of_scope", "session_start", "nlu_fallback"}
    | {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
)

# Characters Rasa's reader would split a line at (str.splitlines), or YAML cannot write
# in an `examples: |` block.
_LINE_BREAKS: Final = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _invalid_characters(text: str) -> list[str]:
    bad = []
    for ch in text:
        if (
            ch in _LINE_BREAKS
            or unicodedata.category(ch) in ("Cc", "Cs")
            or ch in ("\ufeff", "\ufffe", "\uffff")
        ):
            bad.append(f"U+{ord(ch):04X}")
    return bad


def annotation_problems(
    text: str,
    entities: Iterable[str],
    *,
    intent: str | None = None,
    language: str | None = None,
) -> list[Problem]:
    """Broken entity annotations (an unbalanced `[`, `]` or `](`, bad JSON in `{...}`) and
    unknown entity names in an example.

    The annotations are found with Rasa's own ENTITY_REGEX (`[text](entity)`,
    `[text](entity:value)`, `[text]{"entity": ...}`, `[text][{...}, {...}]`), but not read
    with find_entities_in_training_example: that stops at the first broken `{...}` with an
    exception and says nothing of a stray `[` or `]` (which Rasa then trains as text),
    while an admin is told every problem of the example at once.
    """
    import json

    # Imported on first use, like bot.authoring.training_data._examples.plain_text.
    from rasa.shared.nlu.training_data.entities_parser import ENTITY_REGEX, SINGLE_ENTITY_DICT

    known = set(entities)
    problems: list[Problem] = []

    def problem(kind: str, message: str) -> None:
        problems.append(Problem(kind, message, intent, language, text))

    def dict_entity(body: str) -> str | None:
        try:
            data = json.loads(f"{{{body}}}")
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("entity"), str):
            return str(data["entity"])
        problem(
            "annotation",
            f'Broken entity annotation {{{body}}}: expected JSON like {{"entity": "name"}}.',
        )
        return None

    names: list[str | None] = []
    for match in ENTITY_REGEX.finditer(text):
        if "[" in match.group("entity_text"):
            problem(
                "annotation",
                f"Broken entity annotation {match.group(0)!r}: an unbalanced [.",
            )
        if match.group("entity"):
            names.append(match.group("entity").strip())
        elif match.group("entity_dict"):
            names.append(dict_entity(match.group("entity_dict")))
        else:
            dicts = list(SINGLE_ENTITY_DICT.finditer(match.group("list_entity_dicts")))
            if not dicts:
                problem(
                    "annotation",
                    f"Broken entity annotation {match.group(0)!r}: expected [text](entity_name).",
                )
            names += [dict_entity(inner.group("entity_dict")) for inner in dicts]
    rest = ENTITY_REGEX.sub("", text)
    if "[" in rest or "]" in rest:
        if "](" in rest or "]{" in rest or rest.count("[") != rest.count("]"):
            detail = "an unbalanced [ or ], or a broken ](…)"
        else:
            detail = "[…] without (entity_name) after it"
        problem(
            "annotation",
            f"Broken entity annotation ({detail}): write [text](entity_name), "
            "for example [204518](order_number).",
        )
    for name in dict.fromkeys(n for n in names if n is not None):
        if name not in known:
            problem(
                "unknown_entity",
                f"Unknown entity {name!r}: the domain knows "
                f"{', '.join(sorted(known)) or 'no entities'}.",
            )
    return problems


class NluChecks(NluSnapshot):
    """A snapshot with the checks of a change to it (pure: nothing is read or written)."""

    def audit(self) -> list[Problem]:
        """Warnings about the data as it is: duplicates and conflicting examples."""
        problems = []
        for normalised, places in self._index.items():
            intents = sorted({intent for intent, _ in places})
            for (intent, language), count in places.items():
                if count > 1:
                    problems.append(
                        Problem(
                            "duplicate",
                            f"{normalised!r} is {count} times in {intent} ({language}).",
                            intent,
                            language,
                            normalised,
                            "warning",
                        )
                    )
            if len(intents) > 1:
                problems.append(
                    Problem(
                        "conflict",
                        f"{normalised!r} is an example of {', '.join(intents)}.",
                        intents[0],
                        None,
                        normalised,
                        "warning",
                    )
                )
        return problems

    def check_examples(
        self,
        intent: str,
        language: str,
        texts: Sequence[str],
        *,
        replacing: str | None = None,
    ) -> list[Problem]:
        """What is wrong with adding `texts` to `intent` in `language` (or with putting the
        first text in place of the example `replacing`)."""
        problems: list[Problem] = []
        existing = [normalise_example(e) for e in self.examples(intent, language)]
        if replacing is not None and normalise_example(replacing) in existing:
            existing.remove(normalise_example(replacing))
        seen = set(existing)
        for raw in texts:
            text = clean_example(raw)
            found = self._check_one(intent, language, text)
            problems += found
            if not text or any(p.kind in ("invalid_character",) for p in found):
                continue
            normalised = normalise_example(text)
            if normalised in seen:
                problems.append(
                    Problem(
                        "duplicate",
                        f"{text!r} is already an example of {intent} ({language}).",
                        intent,
                        language,
                        text,
                    )
                )
            seen.add(normalised)
            others = sorted(
                {(i, lang) for i, lang in self._index.get(normalised, {}) if i != intent},
                key=lambda place: (place[0], self._language_rank(place[1])),
            )
            if others:
                where = ", ".join(f"{i} ({lang})" for i, lang in others)
                problems.append(
                    Problem(
                        "conflict",
                        f"{text!r} is already an example of {where}: "
                        "the same words cannot mean two intents.",
                        intent,
                        language,
                        text,
                    )
                )
        return problems

    def _language_rank(self, language: str) -> int:
        return self.languages.index(language) if language in self.languages else len(self.languages)

    def _check_one(self, intent: str, language: str, text: str) -> list[Problem]:
        if not text:
            return [Problem("empty", "An example cannot be empty.", intent, language, text)]
        problems = []
        if len(text) > MAX_EXAMPLE_CHARS:
            problems.append(
                Problem(
                    "too_long",
                    f"An example can have at most {MAX_EXAMPLE_CHARS} characters "
                    f"(this one has {len(text)}).",
                    intent,
                    language,
                    text,
                )
            )
        bad = _invalid_characters(text)
        if bad:
            problems.append(
                Problem(
                    "invalid_character",
                    "An example must be a single line of text (found "
                    f"{', '.join(dict.fromkeys(bad))}).",
                    intent,
                    language,
                    text,
                )
            )
            return problems
        problems += annotation_problems(text, self.entities, intent=intent, language=language)
        return problems

    def _check_language(self, language: str, intent: str | None = None) -> list[Problem]:
        if language in self.languages:
            return []
        return [
            Problem(
                "unknown_language",
                f"No training data file for language {language!r} "
                f"(known: {', '.join(self.languages)}).",
                intent,
                language,
            )
        ]

    def _check_known_intent(self, intent: str) -> list[Problem]:
        if intent in self._examples:
            return []
        return [Problem("unknown_intent", f"There is no intent {intent!r} with examples.", intent)]

    def check_intent_name(self, name: str, *, answer_added: bool = False) -> list[Problem]:
        """What is wrong with `name` as a new intent (its examples aside)."""
        if not INTENT_NAME.fullmatch(name):
            return [
                Problem(
                    "invalid_name",
                    f"{name!r} is not a valid intent name: use lower-case letters, digits "
                    "and _, starting with a letter (a FAQ question: faq/<key>).",
                    name,
                )
            ]
        parent, _, child = name.partition("/")
        if name in self._examples or name in self.domain_intents:
            return [Problem("exists", f"The intent {name!r} already exists.", name)]
        if name in _RESERVED_NAMES or (not child and name in self.retrieval_intents()):
            return [Problem("invalid_name", f"{name!r} is a reserved intent name.", name)]
        if child and parent not in self.retrieval_intents():
            return [
                Problem(
                    "invalid_name",
                    f"{parent!r} is not a retrieval intent of this project "
                    f"(known: {', '.join(sorted(self.retrieval_intents())) or 'none'}).",
                    name,
                )
            ]
        if child and not answer_added and f"utter_{name}" not in self._responses:
            return [
                Problem(
                    "missing_answer",
                    f"{name} needs its answer utter_{name}: add the question and its "
                    "answer together (bot.authoring.answers.Answers.add_faq).",
                    name,
                )
            ]
        return []

    def check_new_intent(
        self,
        name: str,
        examples_by_language: Mapping[str, Sequence[str]],
        *,
        answer_added: bool = False,
    ) -> list[Problem]:
        problems = self.check_intent_name(name, answer_added=answer_added)
        if not any(texts for texts in examples_by_language.values()):
            problems.append(
                Problem("empty", f"A new intent needs at least one example ({name}).", name)
            )
        for language, texts in examples_by_language.items():
            language_problems = self._check_language(language, name)
            problems += language_problems or self.check_examples(name, language, texts)
        return problems

    def _check_present(self, intent: str, language: str, text: str) -> list[Problem]:
        if text in self.examples(intent, language):
            return []
        return [
            Problem(
                "not_found",
                f"{text!r} is not an example of {intent} ({language}).",
                intent,
                language,
                text,
            )
        ]
