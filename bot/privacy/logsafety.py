"""Logs without personal data or secrets: a log record factory that masks e-mail
addresses, phone and card numbers and IBANs (bot.privacy.masking) and redacts known secrets in
every record's message, exception text and stack.

`install()` is called first thing by every Köprü process (`bot.cli.main`,
`bot.serving.rasa_server`), so it covers the records of every library, Rasa's structlog output
included (structlog hands its rendered line to the standard logging). The secrets are
the values of Köprü's token and secret variables (read again whenever they change), the
passwords of the database URLs, and whatever looks like one wherever it appears:
``token=`` and similar query parameters, passwords in URLs, Telegram bot tokens (also in
``.../bot<token>/...`` API URLs), Slack tokens and bearer tokens.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from bot.privacy.masking import mask

__all__ = ["REDACTED", "SECRET_VARIABLES", "install", "redact", "scrub", "secrets_from_env"]

REDACTED: Final = "***"

# Variables whose whole value is a secret.
SECRET_VARIABLES: Final = (
    "KOPRU_API_TOKEN",
    "KOPRU_ADMIN_TOKEN",
    "KOPRU_ACTION_SECRET",
    "KOPRU_WEB_SECRET",
    "TELEGRAM_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
)
# Variables holding a URL whose password is a secret.
URL_VARIABLES: Final = (
    "KOPRU_DATABASE_URL",
    "KOPRU_TRACKER_DB_URL",
    "KOPRU_REDIS_URL",
    "KOPRU_RABBITMQ_URL",
    "DATABASE_URL",
    "REDIS_URL",
)
# Any other variable named like this holds a secret too (when it is long enough to be
# one: redacting "1" or "true" everywhere would ruin the logs and protect nothing).
_SECRET_NAME = re.compile(r"(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY)$")
_SHORTEST_GUESSED_SECRET: Final = 8
_SHORTEST_SECRET: Final = 4

_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # Telegram bot tokens, in Bot API URLs (https://api.telegram.org/bot<token>/getMe)
    # and anywhere else.
    (re.compile(r"(/bot)[0-9]{5,16}:[A-Za-z0-9_-]{20,}"), rf"\1{REDACTED}"),
    (re.compile(r"(?<![\w:])[0-9]{5,16}:[A-Za-z0-9_-]{30,}"), REDACTED),
    # Slack tokens (xoxb-, xoxp-, xoxa-, xoxe-, xapp-, ...).
    (re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]{8,}"), REDACTED),
    # A password in a URL: scheme://user:password@host.
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s'\"]*:)[^@/\s'\"]+(@)"), rf"\1{REDACTED}\2"),
    # token=..., api_key=..., password=... in query strings and key=value logs.
    (
        re.compile(
            r"(?i)((?<![\w-])[\w-]*(?:token|api_?key|secret|password|passwd|signature|sig)=)"
            r"[^&#\s'\",;]+"
        ),
        rf"\1{REDACTED}",
    ),
    # Authorization headers and the Telegram webhook's secret header, as logged in dicts.
    (
        re.compile(
            r"(?i)((?:authorization|x-telegram-bot-api-secret-token|x-kopru-action-secret|"
            r"x-slack-signature)['\"]?\s*[:=]\s*['\"]?(?:bearer\s+|basic\s+|bot\s+)?)"
            r"[^\s'\",}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{REDACTED}"),
)


def _url_password(url: str) -> str | None:
    match = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:([^@/\s]+)@", url)
    return match.group(1) if match else None


def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """The secret values in the environment: Köprü's tokens and secrets, the passwords of
    database URLs, and any long value of a variable named ``*_TOKEN``, ``*_SECRET``,
    ``*_PASSWORD`` or ``*_API_KEY``."""
    env = os.environ if env is None else env
    found = [env.get(name, "").strip() for name in SECRET_VARIABLES]
    found += [_url_password(env.get(name, "")) or "" for name in URL_VARIABLES]
    found += [
        value.strip()
        for name, value in env.items()
        if _SECRET_NAME.search(name.upper()) and len(value.strip()) >= _SHORTEST_GUESSED_SECRET
    ]
    return list(dict.fromkeys(s for s in found if len(s) >= _SHORTEST_SECRET))


def _literal_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    values = sorted({s for s in secrets if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in values)) if values else None


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secret values and anything that looks like a secret replaced."""
    literal = _literal_pattern(secrets)
    return _redact(text, literal)


def _redact(text: str, literal: re.Pattern[str] | None) -> str:
    if literal is not None:
        text = literal.sub(REDACTED, text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` redacted (secrets) and masked (personal data), as logs get it."""
    return mask(redact(text, secrets))


class _SafeRecordFactory:
    """Wraps the record factory in place; cleans every record it makes."""

    kopru_logsafety = True

    def __init__(
        self, wrapped: Callable[..., logging.LogRecord], secrets: Iterable[str] | None
    ) -> None:
        self.wrapped = wrapped
        self._lock = threading.Lock()
        self._explicit: tuple[str, ...] | None = None
        self._env_key: tuple[str, ...] | None = None
        self._literal: re.Pattern[str] | None = None
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str] | None) -> None:
        """None: the environment's secrets, read again when they change."""
        with self._lock:
            self._explicit = None if secrets is None else tuple(secrets)
            self._env_key = None
            self._literal = _literal_pattern(self._explicit or ())

    def _current_literal(self) -> re.Pattern[str] | None:
        if self._explicit is not None:
            return self._literal
        key = tuple(os.environ.get(n, "") for n in (*SECRET_VARIABLES, *URL_VARIABLES))
        with self._lock:
            if key != self._env_key:
                self._literal = _literal_pattern(secrets_from_env())
                self._env_key = key
            return self._literal

    def clean(self, text: str) -> str:
        return mask(_redact(text, self._current_literal()))

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.wrapped(*args, **kwargs)
        try:
            self._clean_record(record)
        except Exception:  # a log line must never crash its caller
            record.msg, record.args = "(log message withheld: it could not be masked)", None
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return record

    def _clean_record(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is, masked
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.clean(message), None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters print exc_text when it is set; the exception object itself is
            # dropped so that no handler renders it (and its message) unmasked.
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)


def install(secrets: Iterable[str] | None = None) -> None:
    """Make every log record of this process masked and redacted from now on.

    `secrets` are the values to redact besides what looks like a secret; by default
    (None) those of the environment (`secrets_from_env`), read again when they change.
    Installing again only replaces the secrets: the factory is never wrapped twice.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "kopru_logsafety", False):
        current.set_secrets(secrets)  # type: ignore[attr-defined]
        return
    logging.setLogRecordFactory(_SafeRecordFactory(current, secrets))
