"""The project's YAML files read and written: ruamel.yaml's round trip under the data lock.

A change reads the files fresh under :func:`data_lock`, edits the round-trip tree (comments,
order, quoting and the ``examples: |`` blocks are kept, so a change is a small diff), checks
that the new text reads back as intended and replaces the files atomically.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ruamel.yaml import YAML

from bot.authoring.training import data_fingerprint
from bot.authoring.training_data._problems import DataError, Problem
from bot.storage.files import atomic_write, file_lock

__all__ = [
    "DOMAIN_FILE",
    "LOCK_FILE",
    "NLU_DIR",
    "RULES_FILE",
    "Change",
    "DataSession",
    "YamlFile",
    "data_lock",
    "edit_session",
    "safe_load",
]

NLU_DIR: Final = Path("data") / "nlu"
DOMAIN_FILE: Final = Path("domain.yml")
RULES_FILE: Final = Path("data") / "rules.yml"
# In var/ (not in git): the lock file itself never shows up as a change.
LOCK_FILE: Final = Path("var") / ".data.lock"


@dataclass(frozen=True)
class Change:
    """A change that was written: what, which files (relative to the project root), the
    warnings the checks raised, and the data fingerprint (bot.authoring.training) afterwards."""

    kind: str
    summary: str
    files: tuple[Path, ...]
    warnings: tuple[Problem, ...] = ()
    fingerprint: str = ""


@contextmanager
def data_lock(root: Path) -> Iterator[None]:
    """Exclusive access to the project's training data and domain (blocking).

    Reentrant within a thread.  Call it from a worker thread, not on an event loop.
    """
    with file_lock(root / LOCK_FILE):
        yield


def safe_load(text: str) -> Any:
    """Plain data of a YAML text (ruamel's C safe loader, YAML 1.2 like Rasa)."""
    return YAML(typ="safe", pure=False).load(text)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def _indentation(text: str) -> tuple[int, int]:
    """(mapping indent, block sequence dash offset) the file mostly uses."""
    mapping: Counter[int] = Counter()
    offsets: Counter[int] = Counter()
    previous: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if previous is not None and previous.rstrip().endswith(":"):
            parent = len(previous) - len(previous.lstrip(" "))
            if not previous.lstrip().startswith("- "):
                if stripped.startswith("- ") or stripped == "-":
                    offsets[indent - parent] += 1
                elif indent > parent:
                    mapping[indent - parent] += 1
        previous = line
    map_indent = mapping.most_common(1)[0][0] if mapping else 2
    offset = offsets.most_common(1)[0][0] if offsets else 0
    return map_indent, offset


def _round_trip_yaml(text: str) -> YAML:
    """A round-trip YAML instance that writes `text` back as it is."""
    yaml = YAML(typ="rt")
    settings: Any = yaml  # ruamel annotates these attributes as None
    settings.preserve_quotes = True
    settings.width = 1_000_000  # never fold long lines
    settings.allow_unicode = True
    map_indent, offset = _indentation(text)
    yaml.indent(mapping=map_indent, sequence=offset + 2, offset=offset)
    if "\r\n" in text:
        settings.line_break = "\r\n"
    if text.lstrip().startswith("---"):
        settings.explicit_start = True
    return yaml


# The round-trip tree each file was last written from (parsing domain.yml takes a quarter
# of a second): the next change of the same file starts from it if the file still holds
# exactly that text.  A tree is taken out while a change uses it, so a failed change never
# leaves a half-edited tree behind.
_TREES: dict[Path, tuple[str, YAML, Any]] = {}
_TREES_GUARD = threading.Lock()
_TREES_KEPT: Final = 8


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _take_cached_tree(path: Path, text: str) -> tuple[YAML, Any] | None:
    with _TREES_GUARD:
        cached = _TREES.pop(path.resolve(), None)
    if cached is None or cached[0] != _digest(text):
        return None
    return cached[1], cached[2]


def _keep_tree(path: Path, text: str, yaml: YAML, tree: Any) -> None:
    with _TREES_GUARD:
        _TREES[path.resolve()] = (_digest(text), yaml, tree)
        while len(_TREES) > _TREES_KEPT:
            del _TREES[next(iter(_TREES))]


class YamlFile:
    """One YAML file of the project, read fresh: `plain` (safe loader) for checks, `tree`
    (round-trip, parsed on first use) for edits, `render()` for the new text."""

    def __init__(self, root: Path, relative: Path) -> None:
        self.relative = relative
        self.path = root / relative
        self.original = self.path.read_bytes().decode("utf-8")
        self.plain: Any = safe_load(self.original)
        self._yaml: YAML | None = None
        self._tree: Any = None
        self._text: str | None = None
        self._expected: Any = None
        self.changed = False

    @property
    def tree(self) -> Any:
        if self._tree is None:
            if self._text is not None:
                raise RuntimeError(f"{self.relative} was edited as text")
            cached = _take_cached_tree(self.path, self.original)
            if cached is not None:
                self._yaml, self._tree = cached
            else:
                self._yaml = _round_trip_yaml(self.original)
                self._tree = self._yaml.load(self.original)
        return self._tree

    def mark_changed(self) -> None:
        self.changed = True

    def set_text(self, text: str, expected_plain: Any) -> None:
        """Replace the file's text directly (for appends to a file the round trip would
        reformat); `expected_plain` is what the new text must read as."""
        if self._tree is not None:
            raise RuntimeError(f"{self.relative} was edited as a tree")
        self._text = text
        self._expected = expected_plain
        self.changed = True

    def render(self) -> str:
        if self._text is not None:
            return self._text
        if self._tree is None or self._yaml is None:
            return self.original
        buffer = io.StringIO()
        self._yaml.dump(self._tree, buffer)
        return buffer.getvalue()

    def written(self, text: str, plain: Any) -> None:
        """The file now holds `text` (read as `plain`): start over from it."""
        if self._tree is not None and self._yaml is not None:
            _keep_tree(self.path, text, self._yaml, self._tree)
        self.original, self.plain = text, plain
        self._yaml = self._tree = self._text = self._expected = None
        self.changed = False

    def expected_plain(self) -> Any:
        if self._text is not None:
            return self._expected
        return _plain(self._tree) if self._tree is not None else self.plain


class DataSession:
    """The project's files under the data lock: read on demand, written by `commit`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[Path, YamlFile] = {}

    def file(self, relative: Path) -> YamlFile:
        if relative not in self._files:
            self._files[relative] = YamlFile(self.root, relative)
        return self._files[relative]

    def commit(self, kind: str, summary: str, warnings: Sequence[Problem] = ()) -> Change:
        """Render the changed files, check they read back as intended, write them."""
        pending: list[tuple[YamlFile, str, Any]] = []
        for yaml_file in self._files.values():
            if not yaml_file.changed:
                continue
            text = yaml_file.render()
            if text == yaml_file.original:
                continue
            plain = safe_load(text)
            if _plain(plain) != _plain(yaml_file.expected_plain()):
                raise DataError(
                    [Problem("internal", f"{yaml_file.relative} would not read back as written")]
                )
            pending.append((yaml_file, text, plain))
        written: list[YamlFile] = []
        try:
            for yaml_file, text, _ in pending:
                atomic_write(yaml_file.path, text)
                written.append(yaml_file)
        except BaseException:
            # Best effort: do not leave half of a multi-file change behind.
            for yaml_file in written:
                with suppress(OSError):
                    atomic_write(yaml_file.path, yaml_file.original)
            raise
        for yaml_file, text, plain in pending:
            yaml_file.written(text, plain)
        return Change(
            kind=kind,
            summary=summary,
            files=tuple(f.relative for f, _, _ in pending),
            warnings=tuple(warnings),
            fingerprint=data_fingerprint(self.root),
        )


@contextmanager
def edit_session(root: Path) -> Iterator[DataSession]:
    """Lock the project's data and read it fresh; call `commit` to write the changes."""
    with data_lock(root):
        yield DataSession(root)
