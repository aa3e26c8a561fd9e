"""Keeping blank lines and comments in place while entries are added to or removed from
ruamel.yaml round-trip trees."""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

__all__ = ["delete_item", "insert_like_siblings", "with_value"]

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
