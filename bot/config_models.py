"""Sections of Köprü's configuration checked by pydantic models, errors as ConfigError."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError

__all__ = ["Problem", "Section", "first_problem", "parse_section", "section_error"]

S = TypeVar("S", bound="Section")

_EXTRA = "value_error.extra"


class Section(BaseModel):
    """A configuration section: only the keys it declares, read-only once checked.

    Field validators raise ValueError with the text after the key's name: "must be ..."
    (shown as ``section.key must be ...``) or anything else (``section.key: ...``).
    """

    class Config:
        extra = "forbid"
        allow_mutation = False
        arbitrary_types_allowed = True


@dataclass(frozen=True)
class Problem:
    """What is wrong with a section: keys it does not know, else one key's value."""

    unknown_keys: tuple[str, ...] = ()
    key: str | None = None
    message: str = ""

    def text(self, where: str, *, unknown: str, dotted: bool = True) -> str:
        """The ConfigError text. `unknown` formats unknown keys, with {where}, {keys}
        (a, b) and {key_list} (['a', 'b']). `dotted`: ``where.key must ...``; else
        ``where: message`` (the message names the key itself)."""
        if self.unknown_keys:
            keys = list(self.unknown_keys)
            return unknown.format(where=where, keys=", ".join(keys), key_list=keys)
        if not dotted or self.key is None:
            return f"{where}: {self.message}"
        separator = " " if self.message.startswith("must ") else ": "
        return f"{where}.{self.key}{separator}{self.message}"


def first_problem(error: ValidationError) -> Problem:
    """Unknown keys first (all of them, sorted), else the first key in the model's order."""
    errors = error.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == _EXTRA and e["loc"])
    if unknown:
        return Problem(unknown_keys=tuple(unknown))
    first = errors[0]
    loc = [str(part) for part in first["loc"] if part != "__root__"]
    return Problem(key=".".join(loc) or None, message=str(first["msg"]))


def section_error(
    error: ValidationError, where: str, *, unknown: str, dotted: bool = True
) -> ConfigError:
    """The ConfigError for a section `where` that `error` refused."""
    return ConfigError(first_problem(error).text(where, unknown=unknown, dotted=dotted))


def parse_section(
    model: type[S], raw: Any, where: str, *, unknown: str = "{where}: unknown keys {key_list}"
) -> S:
    """`raw` (a kopru.yml section; None for none) checked by `model`, else ConfigError."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping")
    try:
        return model.parse_obj(dict(raw))
    except ValidationError as exc:
        raise section_error(exc, where, unknown=unknown) from None
