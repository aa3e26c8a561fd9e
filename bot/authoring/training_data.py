"""Read and change the NLU training data (``data/nlu/<language>.yml``) for the admin web app.

Queries work on a snapshot read with the fast safe loader.  Every change is a
read-modify-write under the project's data lock (:func:`data_lock`): the files are read
again, the change is checked against the fresh data and refused with :class:`DataError`
before anything is written, then the touched files are rewritten with ruamel.yaml's
round-trip mode (comments, order, quoting and the ``examples: |`` blocks are kept, so a
change is a small diff in the repository history) and replaced atomically.

The YAML plumbing here (:class:`DataSession`, :class:`YamlFile`) is shared with
``bot.authoring.answers``, which edits the responses in ``domain.yml`` the same way.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import stat
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from bot.authoring.training import data_fingerprint
from bot.errors import KopruError

__all__ = [
    "DOMAIN_FILE",
    "INTENT_NAME",
    "LOCK_FILE",
    "MAX_EXAMPLE_CHARS",
    "NLU_DIR",
    "RULES_FILE",
    "THIN_MINIMUM",
    "THIN_SHARE",
    "Change",
    "DataError",
    "DataSession",
    "IntentSummary",
    "Problem",
    "TrainingData",
    "YamlFile",
    "annotation_problems",
    "clean_example",
    "data_lock",
    "delete_item",
    "edit_session",
    "insert_like_siblings",
    "normalise_example",
    "plain_text",
    "raise_errors",
    "safe_load",
    "with_value",
]

NLU_DIR: Final = Path("data") / "nlu"
DOMAIN_FILE: Final = Path("domain.yml")
RULES_FILE: Final = Path("data") / "rules.yml"
# In var/ (not in git): the lock file itself never shows up as a change.
LOCK_FILE: Final = Path("var") / ".data.lock"

MAX_EXAMPLE_CHARS: Final = 500
INTENT_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*(/[a-z0-9_]+)?$")
_LANGUAGE_FILE: Final = re.compile(r"[a-z]{2}")
# A language is thin for an intent below max(THIN_MINIMUM, THIN_SHARE x the best language).
THIN_MINIMUM: Final = 5
THIN_SHARE: Final = 0.4

# Rasa's own intents (rasa.shared.core.constants.DEFAULT_INTENTS) and words YAML 1.1
# readers (PyYAML) turn into booleans or null: neither can be a new intent's name.
_RESERVED_NAMES: Final = frozenset(
    {"restart", "back", "out_of_scope", "session_start", "nlu_fallback"}
    | {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}
)

# rasa.shared.nlu.training_data.entities_parser.ENTITY_REGEX: `[text](entity)`,
# `[text](entity:value)`, `[text]{"entity": ...}` and `[text][{...}, {...}]`.
_ENTITY_ANNOTATION: Final = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)
_ENTITY_DICT: Final = re.compile(r"{(?P<entity_dict>[^}]+?)\}")
# Characters Rasa's reader would split a line at (str.splitlines), or YAML cannot write
# in an `examples: |` block.
_LINE_BREAKS: Final = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")

ProblemSeverity = Literal["error", "warning"]


# --- Public value types -----------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Why a change is refused ("error") or worth a second look ("warning").

    `kind` is a short machine-readable code (see the module's checks), `message` is for
    the admin.  `response` is set by bot.authoring.answers for problems of an answer.
    """

    kind: str
    message: str
    intent: str | None = None
    language: str | None = None
    text: str | None = None
    severity: ProblemSeverity = "error"
    response: str | None = None


class DataError(KopruError):
    """A change was refused; nothing was written.  `problems` says why."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("; ".join(p.message for p in self.problems) or "invalid change")


@dataclass(frozen=True)
class Change:
    """A change that was written: what, which files (relative to the project root), the
    warnings the checks raised, and the data fingerprint (bot.authoring.training) afterwards."""

    kind: str
    summary: str
    files: tuple[Path, ...]
    warnings: tuple[Problem, ...] = ()
    fingerprint: str = ""


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


# --- Example text ---------------------------------------------------------------------------


def plain_text(example: str) -> str:
    """The example as the model sees it: `[204518](order_number)` -> `204518`."""
    return _ENTITY_ANNOTATION.sub(lambda m: m.group("entity_text"), example)


def normalise_example(text: str) -> str:
    """The form examples are compared in: annotations stripped to their text, Unicode NFC,
    case-folded (Turkish İ as i), whitespace collapsed."""
    folded = unicodedata.normalize("NFC", plain_text(text)).casefold().replace("i\u0307", "i")
    return " ".join(folded.split())


def clean_example(text: str) -> str:
    """An example as it is saved: tabs as spaces, no surrounding whitespace."""
    return text.replace("\t", " ").strip()


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
    unknown entity names in an example."""
    import json

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
    for match in _ENTITY_ANNOTATION.finditer(text):
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
            dicts = list(_ENTITY_DICT.finditer(match.group("list_entity_dicts")))
            if not dicts:
                problem(
                    "annotation",
                    f"Broken entity annotation {match.group(0)!r}: expected [text](entity_name).",
                )
            names += [dict_entity(inner.group("entity_dict")) for inner in dicts]
    rest = _ENTITY_ANNOTATION.sub("", text)
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


# --- Locking and writing ------------------------------------------------------------------


class _ProjectLock:
    """flock(2) on the lock file between processes, an RLock between threads (flock locks
    belong to open file descriptions, so a nested use in the same thread must not lock
    the file a second time)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._handle: IO[str] | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = self.path.open("a", encoding="utf-8")
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                except BaseException:
                    handle.close()
                    raise
                self._handle = handle
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._handle is not None:
                    fcntl.flock(self._handle, fcntl.LOCK_UN)
                    self._handle.close()
                    self._handle = None


_LOCKS: dict[Path, _ProjectLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def data_lock(root: Path) -> Iterator[None]:
    """Exclusive access to the project's training data and domain (blocking).

    Reentrant within a thread.  Call it from a worker thread, not on an event loop.
    """
    path = (root / LOCK_FILE).resolve()
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(path, _ProjectLock(path))
    with lock.hold():
        yield


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file next to `path`, then rename it over `path`."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with suppress(FileNotFoundError):
            os.chmod(tmp_name, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp_name, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


# --- YAML files -----------------------------------------------------------------------------


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
                _atomic_write(yaml_file.path, text.encode("utf-8"))
                written.append(yaml_file)
        except BaseException:
            # Best effort: do not leave half of a multi-file change behind.
            for yaml_file in written:
                with suppress(OSError):
                    _atomic_write(yaml_file.path, yaml_file.original.encode("utf-8"))
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


def raise_errors(problems: Iterable[Problem]) -> list[Problem]:
    """Raise DataError if any problem is an error; return the warnings."""
    problems = list(problems)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise DataError(errors)
    return problems


# --- Keeping blank lines and comments in place (ruamel round-trip trees) -------------------

Slot = tuple[Any, Any]  # (CommentedMap or CommentedSeq, key or index)


def _last_key(container: Any) -> Any:
    return list(container.keys())[-1] if isinstance(container, CommentedMap) else len(container) - 1


def _is_block_container(value: Any) -> bool:
    return (
        isinstance(value, (CommentedMap, CommentedSeq))
        and len(value) > 0
        and not value.fa.flow_style()
    )


def _path_to_leaf(container: Any, key: Any) -> list[Slot]:
    """The entries from `container[key]` down to the last scalar it ends with."""
    path = [(container, key)]
    value = container[key]
    while _is_block_container(value):
        last = _last_key(value)
        path.append((value, last))
        value = value[last]
    return path


def _comment_position(container: Any) -> int:
    # ruamel keeps the comment after a mapping value at [2], after a sequence item at [0].
    return 2 if isinstance(container, CommentedMap) else 0


def _peek_trailing(container: Any, key: Any) -> tuple[CommentToken | None, Slot]:
    path = _path_to_leaf(container, key)
    for slot in reversed(path):
        entry = slot[0].ca.items.get(slot[1])
        position = _comment_position(slot[0])
        if entry and len(entry) > position and entry[position] is not None:
            return entry[position], slot
    return None, path[-1]


def _take_trailing(container: Any, key: Any) -> tuple[CommentToken | None, bool]:
    """Detach the comment (or blank lines) that follows the entry `key` of `container`;
    also say whether it followed a block scalar (whose own line break is not in it)."""
    token, (holder, holder_key) = _peek_trailing(container, key)
    if token is not None:
        entry = holder.ca.items[holder_key]
        entry[_comment_position(holder)] = None
        if all(item is None for item in entry):
            del holder.ca.items[holder_key]
    return token, _is_block_scalar(holder, holder_key)


def _put_trailing(
    container: Any, key: Any, token: CommentToken | None, after_block: bool | None = None
) -> None:
    """Make `token` follow the entry `key` (replacing what followed it).  `after_block`:
    whether the token followed a block scalar where it comes from."""
    _take_trailing(container, key)
    if token is None:
        return
    holder, holder_key = _path_to_leaf(container, key)[-1]
    to_block = _is_block_scalar(holder, holder_key)
    if after_block is not None and after_block != to_block:
        value = token.value
        value = value.removeprefix("\n") if to_block else "\n" + value
        token = CommentToken(value, CommentMark(0), None)
    entry = holder.ca.items.setdefault(holder_key, [None, None, None, None])
    entry[_comment_position(holder)] = token


def _is_block_scalar(container: Any, key: Any) -> bool:
    return isinstance(container[key], (LiteralScalarString, FoldedScalarString))


def _blank_lines_after(container: Any, key: Any) -> int | None:
    """Blank lines between this entry and the next, None if a comment is in between."""
    token, (holder, holder_key) = _peek_trailing(container, key)
    if token is None:
        return 0
    if token.value.strip():
        return None
    return token.value.count("\n") - (0 if _is_block_scalar(holder, holder_key) else 1)


def _separator(container: Any) -> int:
    """The number of blank lines most entries of `container` are separated by."""
    keys = list(container.keys()) if isinstance(container, CommentedMap) else range(len(container))
    counts: Counter[int] = Counter()
    for key in list(keys)[:-1]:
        blanks = _blank_lines_after(container, key)
        if blanks is not None:
            counts[blanks] += 1
    return counts.most_common(1)[0][0] if counts else 0


def _blank_token(container: Any, key: Any, blank_lines: int) -> CommentToken | None:
    if blank_lines <= 0:
        return None
    holder, holder_key = _path_to_leaf(container, key)[-1]
    newlines = blank_lines + (0 if _is_block_scalar(holder, holder_key) else 1)
    return CommentToken("\n" * newlines, CommentMark(0), None)


def insert_like_siblings(container: Any, position: int, value: Any, key: Any = None) -> None:
    """Insert `value` (under `key` in a mapping) at `position` with the blank lines the
    other entries are separated by; a comment after the previous entry moves along, so
    it stays in front of the entry it describes."""
    blank_lines = _separator(container)
    is_map = isinstance(container, CommentedMap)
    previous: Any = None
    carried: CommentToken | None = None
    after_block: bool | None = None
    if position > 0:
        previous = list(container.keys())[position - 1] if is_map else position - 1
        carried, after_block = _take_trailing(container, previous)
    if is_map:
        container.insert(position, key, value)
        new_key = key
    else:
        container.insert(position, value)
        new_key = position
    if previous is None:
        _put_trailing(container, new_key, _blank_token(container, new_key, blank_lines))
        return
    _put_trailing(container, previous, _blank_token(container, previous, blank_lines))
    if carried is None and position < len(container) - 1:
        carried, after_block = _blank_token(container, new_key, blank_lines), None
    _put_trailing(container, new_key, carried, after_block)


def delete_item(sequence: Any, index: int) -> None:
    """Delete an item of a block sequence; what followed it (blank lines, or the comment
    before the next item) now follows the previous item."""
    carried, after_block = _take_trailing(sequence, index)
    del sequence[index]
    if index > 0:
        _put_trailing(sequence, index - 1, carried, after_block)


def with_value(old: Any, value: str) -> Any:
    """A scalar with the same YAML style as `old` (quotes, block) holding `value`."""
    if isinstance(old, str) and type(old) is not str:
        new: Any = type(old)(value)
        comment = getattr(old, "comment", None)
        if comment is not None:
            with suppress(AttributeError):
                new.comment = comment
        return new
    return value


# --- The NLU data --------------------------------------------------------------------------


def _example_of_line(line: str) -> str | None:
    """The example on a line of an `examples: |` block, as Rasa's reader takes it."""
    if not line.startswith("-"):
        return None
    return line[1:].strip("\n\r ")


def _block_examples(examples: Any) -> list[str]:
    if isinstance(examples, str):
        return [e for e in map(_example_of_line, examples.splitlines()) if e is not None]
    if isinstance(examples, list):
        return [
            str(item.get("text", "")).strip("\n\r ")
            for item in examples
            if isinstance(item, dict) and item
        ]
    return []


def _nlu_items(plain: Any) -> list[Any]:
    items = plain.get("nlu") if isinstance(plain, dict) else None
    return items if isinstance(items, list) else []


def _domain_names(items: Any) -> list[str]:
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


def _lines_appended(block: str, lines: Sequence[str]) -> str:
    body = block.rstrip("\n")
    tail = block[len(body) :] or "\n"
    return (body + "\n" if body else "") + "\n".join(lines) + tail


class TrainingData:
    """A snapshot of the NLU examples per intent and language, and the changes to them."""

    def __init__(
        self,
        root: Path,
        nlu: Mapping[str, Any],
        domain: Any,
    ) -> None:
        self.root = root
        self.languages = _ordered_languages(nlu, _language_slot_values(domain))
        self.entities: tuple[str, ...] = tuple(
            _domain_names(domain.get("entities") if isinstance(domain, dict) else None)
        )
        self.domain_intents: tuple[str, ...] = tuple(
            _domain_names(domain.get("intents") if isinstance(domain, dict) else None)
        )
        responses = domain.get("responses") if isinstance(domain, dict) else None
        self._responses = frozenset(responses) if isinstance(responses, dict) else frozenset()
        self._examples: dict[str, dict[str, list[str]]] = {}  # intent -> language -> lines
        for language in self.languages:
            for item in _nlu_items(nlu[language]):
                if isinstance(item, dict) and isinstance(item.get("intent"), str):
                    by_language = self._examples.setdefault(item["intent"], {})
                    by_language.setdefault(language, []).extend(
                        _block_examples(item.get("examples"))
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
    def load(cls, project_root: Path) -> TrainingData:
        nlu = {
            language: safe_load((project_root / relative).read_text(encoding="utf-8"))
            for language, relative in cls.language_files(project_root).items()
        }
        domain = safe_load((project_root / DOMAIN_FILE).read_text(encoding="utf-8"))
        return cls(project_root, nlu, domain)

    @classmethod
    def from_session(cls, session: DataSession) -> TrainingData:
        nlu = {
            language: session.file(relative).plain
            for language, relative in cls.language_files(session.root).items()
        }
        return cls(session.root, nlu, session.file(DOMAIN_FILE).plain)

    def _replace_with(self, other: TrainingData) -> None:
        self.__dict__.update(other.__dict__)

    def reload(self) -> None:
        self._replace_with(TrainingData.load(self.root))

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

    # -- Checks (pure) ------------------------------------------------------------------

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
                if _example_of_line(line) != old:
                    continue
                if new is None:
                    del lines[number]
                else:
                    marker = re.match(r"-[ \t]*", line)
                    prefix = marker.group(0) if marker and marker.group(0) != "-" else "- "
                    ending = line[len(line.rstrip("\r\n")) :]
                    lines[number] = f"{prefix}{new}{ending}"
                if any(_example_of_line(rest) is not None for rest in lines):
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
        names = [(_domain_names([item]) or [""])[0] for item in intents]
        typed = {intent.split("/", 1)[0] for intent in self._examples}
        after = max((i for i, n in enumerate(names) if n in typed), default=len(names) - 1)
        insert_like_siblings(intents, after + 1, name)
        domain.mark_changed()
