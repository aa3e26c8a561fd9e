"""A snapshot of the NLU examples per intent and language, and its summaries for the admin
pages (counts per intent and language, the languages an intent is thin in)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from bot.authoring.training import data_fingerprint
from bot.authoring.training_data._examples import block_examples, normalise_example
from bot.authoring.training_data._yaml import DOMAIN_FILE, NLU_DIR, DataSession, safe_load

__all__ = ["THIN_MINIMUM", "THIN_SHARE", "IntentSummary", "NluSnapshot", "domain_names"]

_LANGUAGE_FILE: Final = re.compile(r"[a-z]{2}")
# A language is thin for an intent below max(THIN_MINIMUM, THIN_SHARE x the best language).
THIN_MINIMUM: Final = 5
THIN_SHARE: Final = 0.4

_Snapshot = TypeVar("_Snapshot", bound="NluSnapshot")


@dataclass(frozen=True)
class IntentSummary:
    """One intent of the NLU data (retrieval intents by child: `faq/opening_hours`)."""

    name: str
    counts: Mapping[str, int]
    thin_languages: tuple[str, ...]
    retrieval_intent: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _nlu_items(plain: Any) -> list[Any]:
    items = plain.get("nlu") if isinstance(plain, dict) else None
    return items if isinstance(items, list) else []


def domain_names(items: Any) -> list[str]:
    """Names of a domain list like `intents:` or `entities:` (strings or one-key maps)."""
    names: list[str] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            names.append(str(next(iter(item))))
    return names


def _ordered_languages(found: Iterable[str], preferred: Sequence[str]) -> tuple[str, ...]:
    found = set(found)
    first = [lang for lang in preferred if lang in found]
    return tuple(first + sorted(found - set(first)))


def _language_slot_values(domain: Any) -> list[str]:
    slots = domain.get("slots") if isinstance(domain, dict) else None
    slot = slots.get("language") if isinstance(slots, dict) else None
    values = slot.get("values") if isinstance(slot, dict) else None
    preferred = ["en"]
    if isinstance(values, list):
        preferred += [str(v) for v in values]
    return list(dict.fromkeys(preferred))


class NluSnapshot:
    """The NLU examples per intent and language as read once, and the queries on them.

    The base of bot.authoring.training_data.TrainingData (NluChecks adds the checks, and
    TrainingData the changes).
    """

    def __init__(
        self,
        root: Path,
        nlu: Mapping[str, Any],
        domain: Any,
    ) -> None:
        self.root = root
        self.languages = _ordered_languages(nlu, _language_slot_values(domain))
        self.entities: tuple[str, ...] = tuple(
            domain_names(domain.get("entities") if isinstance(domain, dict) else None)
        )
        self.domain_intents: tuple[str, ...] = tuple(
            domain_names(domain.get("intents") if isinstance(domain, dict) else None)
        )
        responses = domain.get("responses") if isinstance(domain, dict) else None
        self._responses = frozenset(responses) if isinstance(responses, dict) else frozenset()
        self._examples: dict[str, dict[str, list[str]]] = {}  # intent -> language -> lines
        for language in self.languages:
            for item in _nlu_items(nlu[language]):
                if isinstance(item, dict) and isinstance(item.get("intent"), str):
                    by_language = self._examples.setdefault(item["intent"], {})
                    by_language.setdefault(language, []).extend(
                        block_examples(item.get("examples"))
                    )
        self._index: dict[str, dict[tuple[str, str], int]] = {}
        for intent, by_language in self._examples.items():
            for language, examples in by_language.items():
                for example in examples:
                    slot = self._index.setdefault(normalise_example(example), {})
                    slot[(intent, language)] = slot.get((intent, language), 0) + 1

    # -- Loading ------------------------------------------------------------------------

    @staticmethod
    def language_files(root: Path) -> dict[str, Path]:
        """`data/nlu/<two letters>.yml` by language, relative to the project root."""
        directory = root / NLU_DIR
        return {
            path.stem: NLU_DIR / path.name
            for path in sorted(directory.glob("*.yml"))
            if _LANGUAGE_FILE.fullmatch(path.stem)
        }

    @classmethod
    def load(cls: type[_Snapshot], project_root: Path) -> _Snapshot:
        nlu = {
            language: safe_load((project_root / relative).read_text(encoding="utf-8"))
            for language, relative in cls.language_files(project_root).items()
        }
        domain = safe_load((project_root / DOMAIN_FILE).read_text(encoding="utf-8"))
        return cls(project_root, nlu, domain)

    @classmethod
    def from_session(cls: type[_Snapshot], session: DataSession) -> _Snapshot:
        nlu = {
            language: session.file(relative).plain
            for language, relative in cls.language_files(session.root).items()
        }
        return cls(session.root, nlu, session.file(DOMAIN_FILE).plain)

    def _replace_with(self, other: NluSnapshot) -> None:
        self.__dict__.update(other.__dict__)

    def reload(self) -> None:
        self._replace_with(type(self).load(self.root))

    # -- Queries --------------------------------------------------------------------------

    def intents(self) -> list[IntentSummary]:
        return [self._summary(name) for name in self._examples]

    def intent(self, name: str) -> IntentSummary | None:
        return self._summary(name) if name in self._examples else None

    def _summary(self, name: str) -> IntentSummary:
        counts = {lang: len(self._examples[name].get(lang, [])) for lang in self.languages}
        threshold = max(THIN_MINIMUM, THIN_SHARE * max(counts.values(), default=0))
        thin = tuple(lang for lang, count in counts.items() if count < threshold)
        parent = name.split("/", 1)[0] if "/" in name else None
        return IntentSummary(name, counts, thin, parent)

    def examples(self, intent: str, language: str) -> list[str]:
        """The examples as written (with their annotations); [] if there are none."""
        return list(self._examples.get(intent, {}).get(language, []))

    def find(self, text: str) -> list[tuple[str, str]]:
        """(intent, language) of every example that reads like `text` (normalised)."""
        return list(self._index.get(normalise_example(text), {}))

    def fingerprint(self) -> str:
        """bot.authoring.training's hash of everything training reads: differs from the running
        model's (the `kopru-<fingerprint>` in its file name) once the data changed."""
        return data_fingerprint(self.root)

    def retrieval_intents(self) -> frozenset[str]:
        return frozenset(name.split("/", 1)[0] for name in self._examples if "/" in name)
