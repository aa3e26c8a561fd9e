"""What each channel of credentials.yml says about itself in `kopru run`'s ready message.

bot/ knows no channel by name: like Rasa, it imports the connector classes that
credentials.yml names, and asks each for its line through an optional class method
`status_line(env, base_url) -> (label, text) | None` (see `StatusLine`). A connector
without one is listed by its module path.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

import yaml

from bot.errors import ConfigError

__all__ = ["StatusLine", "channel_lines", "channel_paths", "format_lines"]

LABEL_WIDTH = 16


@runtime_checkable
class StatusLine(Protocol):
    @classmethod
    def status_line(cls, env: Mapping[str, str], base_url: str) -> tuple[str, str] | None:
        """The label and text shown for this channel, or None to show nothing."""


def channel_paths(credentials: Path) -> list[str]:
    """The connector class paths credentials.yml names (Rasa's own short names too)."""
    try:
        data = yaml.safe_load(credentials.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {credentials}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{credentials} is not a mapping of channels")
    return [str(key) for key in data]


def channel_lines(
    credentials: Path, env: Mapping[str, str], base_url: str
) -> list[tuple[str, str]]:
    """One (label, text) per channel that describes itself, in credentials.yml's order."""
    lines: list[tuple[str, str]] = []
    for path in channel_paths(credentials):
        if "." not in path:
            continue  # one of Rasa's built-in channels ("rest", "socketio"): nothing to ask
        module_name, _, class_name = path.rpartition(".")
        try:
            connector = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"channel {path!r} in {credentials} cannot be loaded: {exc}") from exc
        describe = getattr(connector, "status_line", None)
        line = describe(env, base_url) if callable(describe) else (path, "on")
        if line is not None:
            lines.append(line)
    return lines


def format_lines(lines: list[tuple[str, str]]) -> str:
    return "".join(f"  {(label + ':').ljust(LABEL_WIDTH)}{text}\n" for label, text in lines)
