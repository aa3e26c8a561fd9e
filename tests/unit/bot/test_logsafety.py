"""bot.privacy.logsafety: once installed, what a real logger writes has personal data masked and
secrets redacted, in the message and in the traceback of logger.exception."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.privacy import logsafety
from bot.privacy.logsafety import (
    MESSAGE_LIMIT,
    REDACTED,
    install,
    one_line,
    redact,
    secrets_from_env,
)

TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
API_TOKEN = "kopru-api-7f3a2c9e1b4d"


@pytest.fixture(autouse=True)
def original_factory() -> Iterator[None]:
    """Every test starts and ends with the factory it found."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A real logger writing through a real handler and formatter into a StringIO."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(f"kopru.test.{id(out)}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, out
    logger.removeHandler(handler)


def test_without_install_nothing_is_masked(log: tuple[logging.Logger, io.StringIO]) -> None:
    # The baseline the other tests are measured against.
    logger, out = log
    logger.info("mail %s", "ayse@example.com")
    assert "ayse@example.com" in out.getvalue()


def test_messages_are_masked_and_secrets_redacted(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = log
    install(secrets=[API_TOKEN])
    logger.info("customer wrote %r", "mailim ayse.yilmaz@example.com, tel +48 601 234 567")
    logger.warning("card %s", "4242 4242 4242 4242")
    logger.info("IBAN PL61 1090 1014 0000 0712 1981 2874 for order 204518")
    logger.info("GET /webhooks/rest/webhook?token=%s&x=1", API_TOKEN)
    logger.debug("api token is " + API_TOKEN)
    logger.info("POST https://api.telegram.org/bot%s/sendMessage", TELEGRAM_TOKEN)
    logger.info("Slack says hi to %s", SLACK_TOKEN)
    logger.info("store postgresql://kopru:pg-pass-123@db:5432/kopru")
    logger.info("headers %s", {"Authorization": "Bearer abcdefgh12345678", "Accept": "*/*"})
    text = out.getvalue()
    for secret in (API_TOKEN, TELEGRAM_TOKEN, SLACK_TOKEN, "pg-pass-123", "abcdefgh12345678"):
        assert secret not in text
    for personal in ("ayse.yilmaz@example.com", "601 234 567", "4242 4242 4242 4242", "PL61 1090"):
        assert personal not in text
    lines = text.splitlines()
    assert lines[0] == (
        f"INFO {logger.name} customer wrote 'mailim a***@example.com, tel +48 *** *** 567'"
    )
    assert lines[1].endswith("card **** **** **** 4242")
    assert lines[2].endswith("IBAN PL** **** **** **** **** **** 2874 for order 204518")
    assert lines[3].endswith(f"GET /webhooks/rest/webhook?token={REDACTED}&x=1")
    assert lines[4].endswith(f"api token is {REDACTED}")
    assert lines[5].endswith(f"POST https://api.telegram.org/bot{REDACTED}/sendMessage")
    assert lines[6].endswith(f"Slack says hi to {REDACTED}")
    assert lines[7].endswith(f"store postgresql://kopru:{REDACTED}@db:5432/kopru")
    assert f"'Authorization': 'Bearer {REDACTED}'" in lines[8]


def test_exceptions_are_masked_too(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    install(secrets=[API_TOKEN])
    try:
        raise ValueError(f"cannot reach https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe "
                         f"for ayse@example.com with {API_TOKEN}")  # fmt: skip
    except ValueError:
        logger.exception("Telegram failed for %s", "jan@example.pl")
    text = out.getvalue()
    assert "Traceback (most recent call last)" in text
    assert (
        "ValueError: cannot reach https://api.telegram.org/bot***/getMe for a***@example.com"
        in text
    )
    for leaked in (TELEGRAM_TOKEN, API_TOKEN, "ayse@example.com", "jan@example.pl"):
        assert leaked not in text
    assert "Telegram failed for j***@example.pl" in text


def test_the_stack_is_masked(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    install(secrets=[API_TOKEN])

    def deep(mail: str) -> None:
        logger.info("here", stack_info=True)

    deep("ayse@example.com")
    assert "Stack (most recent call last)" in out.getvalue()
    assert 'deep("a***@example.com")' in out.getvalue()


def test_secrets_come_from_the_environment(
    log: tuple[logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, out = log
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "webhook-secret-9f8e7d")
    monkeypatch.setenv("KOPRU_DATABASE_URL", "postgresql://kopru:db-pass-77@db/kopru")
    install()
    logger.info("secret webhook-secret-9f8e7d and password db-pass-77")
    # Set later (a generated token): still redacted.
    monkeypatch.setenv("KOPRU_ACTION_SECRET", "action-secret-1a2b3c")
    logger.info("header action-secret-1a2b3c")
    text = out.getvalue()
    assert "webhook-secret-9f8e7d" not in text and "db-pass-77" not in text
    assert "action-secret-1a2b3c" not in text
    assert text.count(REDACTED) == 3


def test_secrets_from_env() -> None:
    env = {
        "KOPRU_API_TOKEN": API_TOKEN,
        "SLACK_SIGNING_SECRET": "signing-secret-abc",
        "KOPRU_TRACKER_DB_URL": "postgresql://rasa:tracker-pw@db/rasa",
        "MY_SERVICE_PASSWORD": "long-enough-password",
        "SHORT_TOKEN": "abc",  # too short to redact everywhere
        "TELEGRAM_MODE": "polling",
    }
    assert sorted(secrets_from_env(env)) == sorted(
        [API_TOKEN, "signing-secret-abc", "tracker-pw", "long-enough-password"]
    )


def test_installing_twice_does_not_wrap_twice(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    original = logging.getLogRecordFactory()
    install(secrets=["first-secret-1"])
    factory = logging.getLogRecordFactory()
    install(secrets=["second-secret-2"])
    assert logging.getLogRecordFactory() is factory
    assert factory.wrapped is original  # type: ignore[attr-defined]
    logger.info("first-secret-1 second-secret-2")
    # The second install replaced the secrets.
    assert out.getvalue().strip().endswith(f"first-secret-1 {REDACTED}")


def test_a_broken_log_call_still_logs_and_raises_nothing(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = log
    install(secrets=[])
    logger.info("%d orders for %s", "many")  # wrong arguments
    assert "many" in out.getvalue()


def test_records_made_by_other_factories_keep_their_extras(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = log
    previous = logging.getLogRecordFactory()

    def tagging(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.tag = "T"
        return record

    logging.setLogRecordFactory(tagging)
    install(secrets=[])
    logger.handlers[0].setFormatter(logging.Formatter("%(tag)s %(message)s"))
    logger.info("mail %s", "ayse@example.com")
    assert out.getvalue() == "T mail a***@example.com\n"


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "order 204518 at 2026-12-25 10:00, https://shop.example/orders?id=7, bot 5012345678"
    assert redact(text) == text


def test_the_command_line_installs_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.cli import main

    store = f"sqlite:///{tmp_path / 'none.db'}"
    monkeypatch.setattr(sys, "argv", ["kopru", "forget", "nobody", "--database", store,
                                      "--tracker-database", store])  # fmt: skip
    assert main() == 0
    assert getattr(logging.getLogRecordFactory(), "kopru_logsafety", False)


def test_module_exports() -> None:
    assert {"install", "redact", "scrub", "secrets_from_env"} <= set(logsafety.__all__)


# --- bounded and linear: what a stranger sends cannot stall the process ----------------------

# For each pattern, text that makes a careless regular expression scan again from every
# start position (quadratic: the URL-password pattern took minutes for 500 kB).
HOSTILE: dict[str, Callable[[int], str]] = {
    "letters (URL scheme)": lambda n: "a" * n,
    "scheme, no userinfo end": lambda n: "a://" + "b" * n,
    "userinfo, no @": lambda n: "a://:" + "b" * n,
    "digits (Telegram token)": lambda n: "1" * n,
    "bot API paths": lambda n: ("/bot12345:" + "a" * 19) * (n // 29),
    "Slack prefixes": lambda n: "xoxb-abc " * (n // 9),
    "key=value words": lambda n: "xtoken" * (n // 6),
    "header, no value": lambda n: "authorization:" + " " * n,
    "bearer, no token": lambda n: "bearer" + " " * n,
    # What slack_bolt logs: a form-encoded body, spaces as "+" (one long "scheme").
    "form body": lambda n: "payload=%7B%22text%22%3A%22" + "merhaba+dunya+" * (n // 14),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_redaction_takes_time_linear_in_hostile_input(kind: str) -> None:
    # Generous: linear code takes milliseconds for all sizes; the quadratic pattern took
    # 2 s for 40 kB and minutes for 500 kB. The sizes grow so that a regression fails
    # within seconds instead of hanging. Figures: `python -m bench.masking`.
    budget = 2.0
    started = time.perf_counter()
    for size in (10_000, 50_000, 100_000, 500_000):
        text = HOSTILE[kind](size)
        assert redact(text) == text
        elapsed = time.perf_counter() - started
        assert elapsed < budget, f"{kind}: {size} characters after {elapsed:.1f} s"


def test_the_url_password_is_still_found_among_hostile_text() -> None:
    text = "a" * 50_000 + " redis://:pw-secret-1@cache:6379 " + "a://" * 10_000
    assert redact(text) == text.replace("pw-secret-1", REDACTED)
    assert redact("x https://u:p@h/a://b:c@d 1://e:f@g") == (
        f"x https://u:{REDACTED}@h/a://b:{REDACTED}@d 1://e:f@g"
    )


def test_a_long_message_is_cut_before_it_is_masked(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = log
    install(secrets=[])
    body = "word " * 100_000  # 500 kB, as slack_bolt logs a badly signed request's body
    logger.warning("Invalid request signature: body=%s", body)
    (line,) = out.getvalue().splitlines()
    cut = len(f"Invalid request signature: body={body}") - MESSAGE_LIMIT
    assert line.endswith(f"word word … [cut {cut} characters]")
    assert len(line) < MESSAGE_LIMIT + 100


@pytest.mark.parametrize(
    ("value", "leak"),
    [
        ("4242 4242 4242 4242", "4242"),
        ("postgresql://kopru:pg-pass-123@db/kopru", "pg-pa"),
        ("ayse.yilmaz@example.com", "yilmaz"),
        ("PL61 1090 1014 0000 0712 1981 2874", "1090"),
    ],
)
def test_what_straddles_the_cut_is_dropped_not_logged_half_masked(
    log: tuple[logging.Logger, io.StringIO], value: str, leak: str
) -> None:
    logger, out = log
    install(secrets=[])
    for split in (3, len(value) // 2, len(value) - 3):
        logger.info("%s %s and more", "." * (MESSAGE_LIMIT - split - 1), value)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all("[cut " in line for line in lines)
    assert not any(leak in line for line in lines)


def test_a_customer_newline_cannot_start_a_log_line(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = log
    install(secrets=[])
    body = '{"text": "hi",\n"2026-12-08 ERROR forged": 1}'  # valid JSON, as sent
    assert json.loads(body)
    logger.info("webhook body %s", body)
    breaks = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    logger.info("text %s", "".join(f"{c}2026-12-08 ERROR forged" for c in breaks))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0] == (
        f'INFO {logger.name} webhook body {{"text": "hi",\\n"2026-12-08 ERROR forged": 1}}'
    )
    assert lines[1].count("ERROR forged") == len(breaks)
    assert lines[1].startswith(f"INFO {logger.name} text \\r2026-12-08 ERROR forged\\n2026")


def test_an_exception_message_cannot_start_a_log_line(
    log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, out = log
    install(secrets=[])
    try:
        try:
            raise KeyError("first\n2026-12-08 ERROR forged one")
        except KeyError as error:
            raise ValueError("second\u20282026-12-08 ERROR forged two") from error
    except ValueError:
        logger.exception("failed for %s", "a\nb")
    lines = out.getvalue().splitlines()
    assert lines[0] == f"ERROR {logger.name} failed for a\\nb"
    # The traceback keeps Python's lines; only the messages are escaped.
    assert lines[1] == "Traceback (most recent call last):"
    assert "KeyError: 'first\\n2026-12-08 ERROR forged one'" in lines
    assert "ValueError: second\\u20282026-12-08 ERROR forged two" in lines
    assert not any(line.startswith("2026") for line in lines)


def test_one_line_escapes_every_line_break() -> None:
    every_character = "".join(map(chr, range(sys.maxunicode + 1)))
    assert len(one_line(every_character).splitlines()) == 1
    assert one_line("a\r\nb") == "a\\r\\nb"
