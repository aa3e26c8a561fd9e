"""The changes to the NLU data: add, edit and delete examples, add intents."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from bot.authoring.training_data._checks import NluChecks
from bot.authoring.training_data._examples import clean_example, example_of_line
from bot.authoring.training_data._layout import delete_item, insert_like_siblings, with_value
from bot.authoring.training_data._problems import DataError, Problem, raise_errors
from bot.authoring.training_data._summary import domain_names
from bot.authoring.training_data._yaml import (
    DOMAIN_FILE,
    Change,
    DataSession,
    YamlFile,
    edit_session,
)

__all__ = ["TrainingData"]


def _lines_appended(block: str, lines: Sequence[str]) -> str:
    body = block.rstrip("\n")
    tail = block[len(body) :] or "\n"
    return (body + "\n" if body else "") + "\n".join(lines) + tail


class TrainingData(NluChecks):
    """A snapshot of the NLU examples per intent and language, and the changes to them.

    A change locks the data, reads it fresh, checks itself against that (DataError, and
    nothing written, when refused), writes the files and leaves this object holding the
    data as written.
    """

    # -- Changes ------------------------------------------------------------------------

    def _change(self, kind: str, apply: Callable[[DataSession, TrainingData], str]) -> Change:
        with edit_session(self.root) as session:
            fresh = TrainingData.from_session(session)
            summary = apply(session, fresh)
            change = session.commit(kind, summary)
            self._replace_with(TrainingData.from_session(session))
        return change

    def add_examples(self, intent: str, language: str, texts: Sequence[str]) -> Change:
        """Append examples at the end of the intent's block in `language` (a new block at
        the end of the file if the intent has none in that language yet)."""
        cleaned = [clean_example(t) for t in texts]

        def apply(session: DataSession, fresh: TrainingData) -> str:
            problems = fresh._check_known_intent(intent) or fresh._check_language(language)
            if not problems and not cleaned:
                problems = [Problem("empty", "No examples to add.", intent, language)]
            raise_errors(problems or fresh.check_examples(intent, language, cleaned))
            fresh.write_examples(session, intent, language, cleaned)
            return f"{intent} ({language}): {len(cleaned)} example(s) added"

        return self._change("add_examples", apply)

    def edit_example(self, intent: str, language: str, old: str, new: str) -> Change:
        new = clean_example(new)

        def apply(session: DataSession, fresh: TrainingData) -> str:
            raise_errors(
                fresh._check_known_intent(intent)
                or fresh._check_language(language)
                or fresh._check_present(intent, language, old)
                or fresh.check_examples(intent, language, [new], replacing=old)
            )
            fresh._edit_line(session, intent, language, old, new)
            return f"{intent} ({language}): {old!r} -> {new!r}"

        return self._change("edit_example", apply)

    def delete_example(self, intent: str, language: str, text: str) -> Change:
        def apply(session: DataSession, fresh: TrainingData) -> str:
            problems = (
                fresh._check_known_intent(intent)
                or fresh._check_language(language)
                or fresh._check_present(intent, language, text)
            )
            summary = fresh.intent(intent)
            if not problems and summary is not None and summary.total <= 1:
                problems = [
                    Problem(
                        "last_example",
                        f"{text!r} is the last example of {intent}: an intent needs one.",
                        intent,
                        language,
                        text,
                    )
                ]
            raise_errors(problems)
            fresh._edit_line(session, intent, language, text, None)
            return f"{intent} ({language}): {text!r} deleted"

        return self._change("delete_example", apply)

    def add_intent(self, name: str, examples_by_language: Mapping[str, Sequence[str]]) -> Change:
        """A new intent: a block at the end of each language file with examples, and the
        name in domain.yml's `intents:` (after the last intent that has examples).

        A FAQ question (`faq/<key>`) needs its answer: use bot.authoring.answers.Answers.add_faq.
        """
        cleaned = {lang: [clean_example(t) for t in texts] for lang, texts in
                   examples_by_language.items()}  # fmt: skip

        def apply(session: DataSession, fresh: TrainingData) -> str:
            raise_errors(fresh.check_new_intent(name, cleaned))
            return fresh.write_new_intent(session, name, cleaned)

        return self._change("add_intent", apply)

    # -- Writing (inside a session, after the checks) --------------------------------------

    def _nlu_file(self, session: DataSession, language: str) -> YamlFile:
        return session.file(self.language_files(self.root)[language])

    def write_examples(
        self, session: DataSession, intent: str, language: str, texts: Sequence[str]
    ) -> None:
        """Append checked examples to the last block of `intent` in `language`."""
        if not texts:
            return
        nlu_file = self._nlu_file(session, language)
        sequence = nlu_file.tree.get("nlu") if isinstance(nlu_file.tree, dict) else None
        if not isinstance(sequence, CommentedSeq):
            raise DataError([Problem("format", f"{nlu_file.relative} has no nlu: list.")])
        lines = [f"- {text}" for text in texts]
        blocks = [
            i
            for i, item in enumerate(sequence)
            if isinstance(item, dict) and item.get("intent") == intent
        ]
        if blocks:
            item = sequence[blocks[-1]]
            examples = item.get("examples")
            if not isinstance(examples, str):
                raise DataError(
                    [
                        Problem(
                            "format",
                            f"{intent} in {nlu_file.relative} does not use an "
                            "`examples: |` block; edit that file by hand.",
                            intent,
                            language,
                        )
                    ]
                )
            item["examples"] = LiteralScalarString(_lines_appended(examples, lines))
        else:
            block = CommentedMap()
            block["intent"] = intent
            block["examples"] = LiteralScalarString("\n".join(lines) + "\n")
            insert_like_siblings(sequence, len(sequence), block)
        nlu_file.mark_changed()

    def _edit_line(
        self, session: DataSession, intent: str, language: str, old: str, new: str | None
    ) -> None:
        nlu_file = self._nlu_file(session, language)
        sequence = nlu_file.tree["nlu"]
        for index, item in enumerate(sequence):
            if not isinstance(item, dict) or item.get("intent") != intent:
                continue
            examples = item.get("examples")
            if not isinstance(examples, str):
                continue
            lines = examples.splitlines(keepends=True)
            for number, line in enumerate(lines):
                if example_of_line(line) != old:
                    continue
                if new is None:
                    del lines[number]
                else:
                    marker = re.match(r"-[ \t]*", line)
                    prefix = marker.group(0) if marker and marker.group(0) != "-" else "- "
                    ending = line[len(line.rstrip("\r\n")) :]
                    lines[number] = f"{prefix}{new}{ending}"
                if any(example_of_line(rest) is not None for rest in lines):
                    item["examples"] = with_value(examples, "".join(lines))
                else:
                    delete_item(sequence, index)
                nlu_file.mark_changed()
                return
        raise DataError(
            [
                Problem(
                    "format",
                    f"{old!r} of {intent} is not in an `examples: |` block of "
                    f"{nlu_file.relative}; edit that file by hand.",
                    intent,
                    language,
                    old,
                )
            ]
        )

    def write_new_intent(
        self, session: DataSession, name: str, examples_by_language: Mapping[str, Sequence[str]]
    ) -> str:
        """Write a checked new intent: NLU blocks, and domain.yml's `intents:`."""
        for language in self.languages:
            self.write_examples(session, name, language, examples_by_language.get(language, ()))
        base = name.split("/", 1)[0]
        if base not in self.domain_intents:
            self._add_domain_intent(session, base)
        counts = ", ".join(
            f"{len(texts)} {lang}" for lang, texts in examples_by_language.items() if texts
        )
        return f"new intent {name} ({counts})"

    def _add_domain_intent(self, session: DataSession, name: str) -> None:
        domain = session.file(DOMAIN_FILE)
        tree = domain.tree
        intents = tree.get("intents")
        if not isinstance(intents, CommentedSeq):
            intents = CommentedSeq()
            tree["intents"] = intents
        names = [(domain_names([item]) or [""])[0] for item in intents]
        typed = {intent.split("/", 1)[0] for intent in self._examples}
        after = max((i for i, n in enumerate(names) if n in typed), default=len(names) - 1)
        insert_like_siblings(intents, after + 1, name)
        domain.mark_changed()
