"""Read and change the bot's answers (the `responses:` of domain.yml) for the admin web app.

Every response has a variation without a condition, in English (the one Rasa falls back
to), and one variation per other language with the condition
``[{type: slot, name: language, value: <language>}]``.  Changes work like those of
bot.authoring.training_data: checked first (nothing is written when one is refused with
DataError), under the data lock, rewritten with ruamel.yaml's round-trip mode so that
changing one text changes one line of domain.yml, and replaced atomically.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from bot.authoring.training import data_fingerprint
from bot.authoring.training_data import (
    DOMAIN_FILE,
    RULES_FILE,
    Change,
    DataSession,
    Problem,
    TrainingData,
    clean_example,
    edit_session,
    insert_like_siblings,
    raise_errors,
    safe_load,
    with_value,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "MAX_ANSWER_CHARS",
    "RESPONSE_NAME",
    "Answers",
    "Button",
    "ResponseSummary",
    "placeholders",
]

# The language of the variation without a condition (bot.nlu.language.DEFAULT_LANGUAGE, not
# imported to keep lingua out of the web app).
DEFAULT_LANGUAGE: Final = "en"
MAX_ANSWER_CHARS: Final = 2000
RESPONSE_NAME: Final = re.compile(r"^utter_[a-z0-9_]+(/[a-z0-9_]+)?$")
FAQ_PREFIX: Final = "utter_faq/"
_FAQ_KEY: Final = re.compile(r"^[a-z0-9_]+$")
# rasa.core.nlg.interpolator: `{name}` is filled from the slots, `{{`/`}}` are braces.
_PLACEHOLDER: Final = re.compile(r"{([^\n{}]+?)}")
_TEMPLATE_PART: Final = re.compile(r"\{\{|\}\}|\{([^\n{}]+?)\}")
_SLOT_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class ResponseSummary:
    name: str
    languages: tuple[str, ...]
    has_buttons: bool
    is_faq: bool
    placeholders: tuple[str, ...] = ()

    @property
    def faq_key(self) -> str | None:
        return self.name.removeprefix(FAQ_PREFIX) if self.is_faq else None


def placeholders(text: str) -> list[str]:
    """The `{placeholders}` of an answer, in order, without `{{escaped}}` braces."""
    found = []
    for match in _TEMPLATE_PART.finditer(text):
        if match.group(1) is not None:
            found.append(match.group(1))
    return list(dict.fromkeys(found))


def _clean_answer(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _variation_language(variation: Any) -> str | None:
    """The language a variation is for; None for variations Köprü does not edit
    (channel-specific ones, other conditions)."""
    if not isinstance(variation, dict) or "channel" in variation:
        return None
    condition = variation.get("condition")
    if not condition:
        return DEFAULT_LANGUAGE
    if (
        isinstance(condition, list)
        and len(condition) == 1
        and isinstance(condition[0], dict)
        and condition[0].get("type") == "slot"
        and condition[0].get("name") == "language"
        and condition[0].get("value") is not None
    ):
        return str(condition[0]["value"])
    return None


def _variation_index(variations: Any, language: str) -> int | None:
    for index, variation in enumerate(variations if isinstance(variations, list) else []):
        if _variation_language(variation) == language:
            return index
    return None


class Answers:
    """A snapshot of the responses in domain.yml, and the changes to them."""

    def __init__(self, root: Path, domain: Any) -> None:
        self.root = root
        domain = domain if isinstance(domain, dict) else {}
        responses = domain.get("responses")
        self._responses: dict[str, list[Any]] = {
            str(name): list(variations)
            for name, variations in (responses.items() if isinstance(responses, dict) else [])
            if isinstance(variations, list)
        }
        slots = domain.get("slots")
        self.slots: frozenset[str] = frozenset(slots) if isinstance(slots, dict) else frozenset()
        slot = slots.get("language") if isinstance(slots, dict) else None
        values = slot.get("values") if isinstance(slot, dict) else None
        self.languages: tuple[str, ...] = tuple(
            dict.fromkeys([DEFAULT_LANGUAGE, *(str(v) for v in values or [])])
        )
        intents = domain.get("intents")
        self.intents: frozenset[str] = frozenset(
            str(item if isinstance(item, str) else next(iter(item)))
            for item in (intents if isinstance(intents, list) else [])
            if isinstance(item, str) or (isinstance(item, dict) and item)
        )

    @classmethod
    def load(cls, project_root: Path) -> Answers:
        text = (project_root / DOMAIN_FILE).read_text(encoding="utf-8")
        return cls(project_root, safe_load(text))

    @classmethod
    def from_session(cls, session: DataSession) -> Answers:
        return cls(session.root, session.file(DOMAIN_FILE).plain)

    def reload(self) -> None:
        self.__dict__.update(Answers.load(self.root).__dict__)

    # -- Queries --------------------------------------------------------------------------

    def responses(self) -> list[ResponseSummary]:
        return [self._summary(name) for name in self._responses]

    def response(self, name: str) -> ResponseSummary | None:
        return self._summary(name) if name in self._responses else None

    def _summary(self, name: str) -> ResponseSummary:
        texts = self.texts(name)
        has_buttons = any(
            isinstance(v, dict) and bool(v.get("buttons")) for v in self._responses[name]
        )
        found = [p for text in texts.values() for p in placeholders(text)]
        return ResponseSummary(
            name,
            tuple(texts),
            has_buttons,
            name.startswith(FAQ_PREFIX),
            tuple(dict.fromkeys(found)),
        )

    def texts(self, name: str) -> dict[str, str]:
        """The text per language (`en` is the variation without a condition)."""
        texts: dict[str, str] = {}
        variations = self._responses.get(name, [])
        for language in self._ordered(_variation_language(v) for v in variations):
            index = _variation_index(variations, language)
            if index is not None and isinstance(variations[index].get("text"), str):
                texts[language] = variations[index]["text"]
        return texts

    def buttons(self, name: str, language: str) -> list[Button]:
        variations = self._responses.get(name, [])
        index = _variation_index(variations, language)
        if index is None:
            return []
        return [
            Button(str(b.get("title", "")), str(b.get("payload", "")))
            for b in variations[index].get("buttons") or []
            if isinstance(b, dict)
        ]

    def _ordered(self, languages: Iterable[str | None]) -> list[str]:
        found = {lang for lang in languages if lang is not None}
        first = [lang for lang in self.languages if lang in found]
        return first + sorted(found - set(first))

    def fingerprint(self) -> str:
        return data_fingerprint(self.root)

    def preview(
        self,
        name: str,
        language: str,
        text: str | None = None,
        slots: Mapping[str, object] | None = None,
    ) -> str:
        """The answer as a customer would read it, `{placeholders}` filled from `slots`
        (those without a value stay as they are).  Without `text`, the saved text (the
        English one if `language` has none, as Rasa does)."""
        if text is None:
            texts = self.texts(name)
            text = texts.get(language, texts.get(DEFAULT_LANGUAGE, ""))
        values = slots or {}

        def fill(match: re.Match[str]) -> str:
            token = match.group(0)
            if token in ("{{", "}}"):
                return token[0]
            value = values.get(match.group(1))
            return token if value is None else str(value)

        return _TEMPLATE_PART.sub(fill, text)

    # -- Checks (pure) ------------------------------------------------------------------

    def check_text(self, name: str, language: str, text: str) -> list[Problem]:
        """What is wrong with `text` as the `language` answer of the existing `name`."""
        text = _clean_answer(text)
        known = {p for t in self.texts(name).values() for p in placeholders(t)}
        return self._check_answer(name, language, text, known, "the other variations")

    def _check_answer(
        self, name: str, language: str, text: str, known: set[str], known_from: str
    ) -> list[Problem]:
        def problem(kind: str, message: str, severity: str = "error") -> Problem:
            return Problem(
                kind,
                message,
                language=language,
                text=text,
                severity="warning" if severity == "warning" else "error",
                response=name,
            )

        if not text:
            return [problem("empty", "An answer cannot be empty.")]
        problems = []
        if len(text) > MAX_ANSWER_CHARS:
            problems.append(
                problem(
                    "too_long",
                    f"An answer can have at most {MAX_ANSWER_CHARS} characters "
                    f"(this one has {len(text)}).",
                )
            )
        rest = _TEMPLATE_PART.sub("", text)
        if "{" in rest or "}" in rest:
            problems.append(
                problem(
                    "braces",
                    "A { or } without its pair: write {slot_name} for a value, "
                    "{{ or }} for the brace itself.",
                )
            )
        for placeholder in placeholders(text):
            if not _SLOT_NAME.fullmatch(placeholder):
                problems.append(
                    problem(
                        "placeholder",
                        f"{{{placeholder}}} is not a valid placeholder name.",
                        "warning",
                    )
                )
            elif placeholder not in known:
                problems.append(
                    problem(
                        "placeholder",
                        f"{{{placeholder}}} is not used by {known_from}: "
                        "customers may see it as it is.",
                        "warning",
                    )
                )
        return problems

    def _check_language(self, name: str, language: str) -> list[Problem]:
        if language in self.languages:
            return []
        return [
            Problem(
                "unknown_language",
                f"The bot does not speak {language!r} (known: {', '.join(self.languages)}).",
                language=language,
                response=name,
            )
        ]

    def check_new_response(
        self, name: str, texts_by_language: Mapping[str, str], *, rule_for_intent: str | None
    ) -> list[Problem]:
        """What is wrong with a new response `name` with these texts."""
        problems: list[Problem] = []
        if not RESPONSE_NAME.fullmatch(name):
            problems.append(
                Problem(
                    "invalid_name",
                    f"{name!r} is not a valid response name: utter_ followed by lower-case "
                    "letters, digits and _.",
                    response=name,
                )
            )
        elif name in self._responses:
            problems.append(
                Problem("exists", f"The response {name!r} already exists.", response=name)
            )
        texts = {lang: _clean_answer(text) for lang, text in texts_by_language.items()}
        if not texts.get(DEFAULT_LANGUAGE):
            problems.append(
                Problem(
                    "missing_default",
                    f"A new answer needs its {DEFAULT_LANGUAGE} text: the bot falls back "
                    "to it in every language without a text of its own.",
                    language=DEFAULT_LANGUAGE,
                    response=name,
                )
            )
        for language, text in texts.items():
            language_problems = self._check_language(name, language)
            problems += language_problems or self._check_answer(
                name, language, text, set(self.slots), "any slot of the domain"
            )
        for language in self.languages:
            if language not in texts:
                problems.append(
                    Problem(
                        "missing_language",
                        f"No {language} text: customers writing in {language} get the "
                        f"{DEFAULT_LANGUAGE} one.",
                        language=language,
                        severity="warning",
                        response=name,
                    )
                )
        if rule_for_intent is not None:
            problems += self._check_rule(name, rule_for_intent)
        return problems

    def _check_rule(self, name: str, intent: str) -> list[Problem]:
        if intent not in self.intents or "/" in intent:
            return [
                Problem(
                    "unknown_intent",
                    f"There is no intent {intent!r} in the domain to answer with {name}.",
                    intent=intent,
                    response=name,
                )
            ]
        if not (self.root / RULES_FILE).is_file():
            return [Problem("format", f"There is no {RULES_FILE}.", response=name)]
        rules = (self.root / RULES_FILE).read_text(encoding="utf-8")
        if re.search(rf"^\s*-\s+intent:\s+{re.escape(intent)}\s*$", rules, re.MULTILINE):
            return [
                Problem(
                    "rule_exists",
                    f"{RULES_FILE} already has a rule for {intent}.",
                    intent=intent,
                    response=name,
                )
            ]
        return []

    # -- Changes ------------------------------------------------------------------------

    def _change(
        self, kind: str, apply: Callable[[DataSession, Answers], tuple[str, list[Problem]]]
    ) -> Change:
        with edit_session(self.root) as session:
            fresh = Answers.from_session(session)
            summary, warnings = apply(session, fresh)
            change = session.commit(kind, summary, warnings)
            self.__dict__.update(Answers.from_session(session).__dict__)
        return change

    def set_text(self, name: str, language: str, text: str) -> Change:
        """Replace the text of one variation (its buttons, condition and quoting stay),
        or add the variation for `language` if the response has none yet."""
        text = _clean_answer(text)

        def apply(session: DataSession, fresh: Answers) -> tuple[str, list[Problem]]:
            if name not in fresh._responses:
                raise_errors(
                    [Problem("unknown_response", f"There is no response {name!r}.", response=name)]
                )
            warnings = raise_errors(
                fresh._check_language(name, language) or fresh.check_text(name, language, text)
            )
            warnings += fresh._write_text(session, name, language, text)
            return f"{name} ({language}) changed", warnings

        return self._change("set_text", apply)

    def add_response(
        self,
        name: str,
        texts_by_language: Mapping[str, str],
        *,
        rule_for_intent: str | None = None,
    ) -> Change:
        """A new response (for example `utter_<intent>` for a new intent).  With
        `rule_for_intent`, also a rule in data/rules.yml that answers that intent with it."""

        def apply(session: DataSession, fresh: Answers) -> tuple[str, list[Problem]]:
            warnings = raise_errors(
                fresh.check_new_response(name, texts_by_language, rule_for_intent=rule_for_intent)
            )
            fresh.write_response(session, name, texts_by_language)
            summary = f"new response {name}"
            if rule_for_intent is not None:
                _append_rule(session, rule_for_intent, name)
                summary += f", answers {rule_for_intent}"
            return summary, warnings

        return self._change("add_response", apply)

    def add_faq(
        self,
        key: str,
        question_examples_by_language: Mapping[str, Sequence[str]],
        answer_by_language: Mapping[str, str],
    ) -> Change:
        """A new frequent question: the examples of `faq/<key>` (bot.authoring.training_data) and
        its answer `utter_faq/<key>`, written together or not at all."""
        intent, response = f"faq/{key}", f"{FAQ_PREFIX}{key}"

        def apply(session: DataSession, fresh: Answers) -> tuple[str, list[Problem]]:
            data = TrainingData.from_session(session)
            problems: list[Problem] = []
            if not _FAQ_KEY.fullmatch(key):
                problems.append(
                    Problem(
                        "invalid_name",
                        f"{key!r} is not a valid FAQ key: lower-case letters, digits and _.",
                        intent=intent,
                    )
                )
            else:
                problems += data.check_new_intent(
                    intent, question_examples_by_language, answer_added=True
                )
                problems += fresh.check_new_response(
                    response, answer_by_language, rule_for_intent=None
                )
            warnings = raise_errors(problems)
            cleaned = {
                lang: [clean_example(t) for t in texts]
                for lang, texts in question_examples_by_language.items()
            }
            summary = data.write_new_intent(session, intent, cleaned)
            fresh.write_response(session, response, answer_by_language)
            return f"{summary} answered by {response}", warnings

        return self._change("add_faq", apply)

    # -- Writing (inside a session, after the checks) --------------------------------------

    def _write_text(
        self, session: DataSession, name: str, language: str, text: str
    ) -> list[Problem]:
        domain = session.file(DOMAIN_FILE)
        variations = domain.tree["responses"][name]
        index = _variation_index(variations, language)
        domain.mark_changed()
        if index is not None:
            variation = variations[index]
            old = variation.get("text")
            variation["text"] = with_value(old, text) if isinstance(old, str) else text
            return []
        warnings: list[Problem] = []
        variation = CommentedMap()
        if language != DEFAULT_LANGUAGE:
            variation["condition"] = _language_condition(language)
        variation["text"] = self._styled(domain.tree, name, text)
        default = _variation_index(variations, DEFAULT_LANGUAGE)
        buttons = variations[default].get("buttons") if default is not None else None
        if buttons:
            variation["buttons"] = _copy_block(buttons)
            warnings.append(
                Problem(
                    "buttons_copied",
                    f"The new {language} text got the {DEFAULT_LANGUAGE} buttons: their "
                    "titles are not translated yet (edit domain.yml).",
                    language=language,
                    severity="warning",
                    response=name,
                )
            )
        rank = {lang: i for i, lang in enumerate(self.languages)}
        position = 0
        for i, existing in enumerate(variations):
            existing_language = _variation_language(existing)
            if existing_language is None or rank.get(existing_language, len(rank)) < rank.get(
                language, len(rank)
            ):
                position = i + 1
        insert_like_siblings(variations, position, variation)
        return warnings

    @staticmethod
    def _styled(tree: Any, name: str | None, text: str) -> Any:
        """`text` quoted like the texts of `name` (or, for a new response, like the first
        response's text)."""
        responses = tree.get("responses") or {}
        candidates = [responses[name]] if name in responses else []
        candidates += list(responses.values())[:1]
        for variations in candidates:
            for variation in variations:
                if isinstance(variation, dict) and isinstance(variation.get("text"), str):
                    return with_value(variation["text"], text)
        return DoubleQuotedScalarString(text)

    def write_response(
        self, session: DataSession, name: str, texts_by_language: Mapping[str, str]
    ) -> None:
        """Add a checked new response after the last one of its kind (FAQ answer or not)."""
        domain = session.file(DOMAIN_FILE)
        tree = domain.tree
        responses = tree.get("responses")
        if not isinstance(responses, CommentedMap):
            responses = CommentedMap()
            tree["responses"] = responses
        variations = CommentedSeq()
        texts = {lang: _clean_answer(text) for lang, text in texts_by_language.items()}
        for language in self._ordered(texts):
            variation = CommentedMap()
            if language != DEFAULT_LANGUAGE:
                variation["condition"] = _language_condition(language)
            variation["text"] = self._styled(tree, None, texts[language])
            variations.append(variation)
        names = list(responses)
        is_faq = name.startswith(FAQ_PREFIX)
        same_kind = [i for i, n in enumerate(names) if n.startswith(FAQ_PREFIX) == is_faq]
        position = same_kind[-1] + 1 if same_kind else len(names)
        insert_like_siblings(responses, position, variations, key=name)
        domain.mark_changed()


def _language_condition(language: str) -> CommentedSeq:
    item = CommentedMap()
    item["type"] = "slot"
    item["name"] = "language"
    item["value"] = language
    condition = CommentedSeq()
    condition.append(item)
    return condition


def _copy_block(node: Any) -> Any:
    """A copy of a block of plain data, without the original's comments or positions."""
    if isinstance(node, dict):
        copy = CommentedMap()
        for key, value in node.items():
            copy[key] = _copy_block(value)
        return copy
    if isinstance(node, list):
        items = CommentedSeq()
        items.extend(_copy_block(value) for value in node)
        return items
    return node


def _append_rule(session: DataSession, intent: str, response: str) -> None:
    """Append `intent -> response` to data/rules.yml as text, in the layout of its last
    rule (the round trip would re-indent that file's mixed layouts)."""
    rules_file = session.file(RULES_FILE)
    original = rules_file.original
    lines = original.splitlines()
    rule_lines = [i for i, line in enumerate(lines) if re.match(r"^(\s*)- rule:", line)]
    dash_indent, step_indent, blank = 0, 2, True
    if rule_lines:
        last = rule_lines[-1]
        dash_indent = len(lines[last]) - len(lines[last].lstrip())
        for line in lines[last + 1 :]:
            stripped = line.lstrip()
            if stripped.startswith("- "):
                step_indent = len(line) - len(stripped) - dash_indent
                break
        blank = any(i > 0 and not lines[i - 1].strip() for i in rule_lines[1:])
    pad, step = " " * dash_indent, " " * (dash_indent + step_indent)
    block = (
        f"{pad}- rule: answer {intent} with {response}\n"
        f"{pad}  steps:\n"
        f"{step}- intent: {intent}\n"
        f"{step}- action: {response}\n"
    )
    text = original.rstrip("\n") + "\n" + ("\n" if blank and rule_lines else "") + block
    expected = dict(rules_file.plain or {})
    expected["rules"] = [
        *(expected.get("rules") or []),
        {
            "rule": f"answer {intent} with {response}",
            "steps": [{"intent": intent}, {"action": response}],
        },
    ]
    rules_file.set_text(text, expected)
