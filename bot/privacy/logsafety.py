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

Cleaning a record is bounded and linear in time, because what is logged may be anything a
stranger sends (slack_bolt logs the body of a badly signed request, on the event loop):

* a message longer than `MESSAGE_LIMIT` (a traceback or stack longer than
  `TRACEBACK_LIMIT`) is cut before it is masked, with a marker
  ``… [cut N characters]``; what straddles the cut (a card number, a URL's password) is
  dropped, never logged half-masked;
* every pattern does work linear in the text: no unbounded scan is retried from every
  start position (the URL-password search starts at each ``://``, found with `str.find`).

A record is one line: the line breaks of its message (newline, carriage return and the
other characters `str.splitlines` breaks at) are written as visible escapes (a backslash
and ``n`` for a newline), so that no customer text can start a forged log line. A
traceback keeps its lines (Python writes them), but the messages of its exceptions, which
often quote input, are escaped too.
"""

from __future__ import annotations

import logging
import os
import re
import string
import threading
import traceback
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from types import TracebackType
from typing import Any, Final

from bot.privacy.masking import mask

__all__ = [
    "MESSAGE_LIMIT",
    "REDACTED",
    "SECRET_VARIABLES",
    "TRACEBACK_LIMIT",
    "install",
    "one_line",
    "redact",
    "scrub",
    "secrets_from_env",
]

REDACTED: Final = "***"

# The most of a record's message (of its traceback or stack) that is masked and logged.
MESSAGE_LIMIT: Final = 8 * 1024
TRACEBACK_LIMIT: Final = 32 * 1024
# Masked beyond a cut, so that what straddles the cut is recognised whole (every pattern's
# match is shorter than this, but for values whose any part is still recognised).
_CUT_MARGIN: Final = 2048
_CUT_MARKER: Final = "… [cut {} characters]"

# Every character str.splitlines breaks a line at, and how a log line shows it.
_LINE_BREAKS: Final = {
    "\n": "\\n",
    "\r": "\\r",
    "\x0b": "\\x0b",
    "\x0c": "\\x0c",
    "\x1c": "\\x1c",
    "\x1d": "\\x1d",
    "\x1e": "\\x1e",
    "\x85": "\\x85",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_ONE_LINE: Final = str.maketrans(_LINE_BREAKS)

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

# A password in a URL, scheme://user:password@host: what follows the "://" (the scheme is
# checked apart, see `_redact_url_passwords`). Neither part can contain what ends the
# other, so a failed match gives up within its own few characters.
_URL_USERINFO = re.compile(r"([^:/@\s'\"]{0,256}:)[^@/\s'\"]{1,1024}@")
_SCHEME_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + "+.-")
_SCHEME_LETTERS: Final = frozenset(string.ascii_letters)


def _scheme_ends_at(text: str, end: int) -> bool:
    """Whether a URL scheme (a letter, then letters, digits, "+", "." or "-") ends at `end`."""
    index = end
    while index > 0 and text[index - 1] in _SCHEME_CHARACTERS:
        index -= 1
        if text[index] in _SCHEME_LETTERS:
            return True
    return False


def _redact_url_passwords(text: str) -> str:
    """`text` with the password of every scheme://user:password@host redacted.

    Linear: each "://" is found once with `str.find` and the match after it stops at the
    next "/"; a regular expression starting with the scheme would scan the scheme's
    characters again from every letter of a long word (quadratic: minutes for 500 kB).
    """
    pieces: list[str] = []
    done = 0
    found = text.find("://")
    while found != -1:
        match = _URL_USERINFO.match(text, found + 3)
        if match is not None and _scheme_ends_at(text, found):
            pieces += (text[done : match.end(1)], REDACTED, "@")
            done = match.end()
            found = text.find("://", done)
        else:
            found = text.find("://", found + 3)
    return "".join(pieces) + text[done:] if pieces else text


_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # Telegram bot tokens, in Bot API URLs (https://api.telegram.org/bot<token>/getMe)
    # and anywhere else.
    (re.compile(r"(/bot)[0-9]{5,16}:[A-Za-z0-9_-]{20,}"), rf"\1{REDACTED}"),
    (re.compile(r"(?<![\w:])[0-9]{5,16}:[A-Za-z0-9_-]{30,}"), REDACTED),
    # Slack tokens (xoxb-, xoxp-, xoxa-, xoxe-, xapp-, ...).
    (re.compile(r"\bx(?:ox[a-z]|app)-[A-Za-z0-9-]{8,}"), REDACTED),
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
# What redacts what looks like a secret, in order. Each step's work is linear in the text:
# every pattern starts with a literal or at the start of a word, its repetitions end
# where its next part starts, and the URL passwords are found from each "://".
_STEPS: Final[tuple[Callable[[str], str], ...]] = (
    *(partial(pattern.sub, replacement) for pattern, replacement in _PATTERNS[:3]),
    _redact_url_passwords,
    *(partial(pattern.sub, replacement) for pattern, replacement in _PATTERNS[3:]),
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
    for step in _STEPS:
        text = step(text)
    return text


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` redacted (secrets) and masked (personal data), as logs get it."""
    return mask(redact(text, secrets))


def one_line(text: str) -> str:
    """`text` with every line break (all that `str.splitlines` breaks at) as an escape."""
    return text.translate(_ONE_LINE)


def _common_prefix_length(first: str, second: str) -> int:
    low, high = 0, min(len(first), len(second))
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _bounded(text: str, clean: Callable[[str], str], limit: int) -> str:
    """`clean(text)` of at most the first `limit` characters of `text`, and a marker.

    What straddles the cut would be cleaned as a fragment (half a card number is no card
    number): the text is cleaned once cut and once with a margin more, and only what both
    agree on is kept, so the straddling value is dropped whole.
    """
    if len(text) <= limit:
        return clean(text)
    cut = clean(text[:limit])
    further = clean(text[: limit + _CUT_MARGIN])
    return cut[: _common_prefix_length(cut, further)] + _CUT_MARKER.format(len(text) - limit)


def _format_exception(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> str:
    """The traceback as `logging.Formatter.formatException` writes it, but with each
    exception's message (which often quotes input) on one line."""
    exception = traceback.TracebackException(kind, error, trace)
    pending, seen = [exception], set()
    while pending:
        part = pending.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        message = getattr(part, "_str", None)  # what format_exception_only writes
        if isinstance(message, str):
            part._str = one_line(message)  # type: ignore[attr-defined]
        pending += [p for p in (part.__cause__, part.__context__) if p is not None]
    return "".join(exception.format()).removesuffix("\n")


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

    def clean_message(self, text: str) -> str:
        """`text` cleaned and on one line, cut at `MESSAGE_LIMIT`."""
        return _bounded(text, lambda part: self.clean(one_line(part)), MESSAGE_LIMIT)

    def clean_lines(self, text: str) -> str:
        """`text` (a traceback or stack) cleaned, cut at `TRACEBACK_LIMIT`."""
        return _bounded(text, self.clean, TRACEBACK_LIMIT)

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
        record.msg, record.args = self.clean_message(message), None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters print exc_text when it is set; the exception object itself is
            # dropped so that no handler renders it (and its message) unmasked.
            record.exc_text = self.clean_lines(_format_exception(*record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.clean_lines(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean_lines(record.stack_info)


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
