"""bot.privacy.logsafety: once installed, what a real logger writes has personal data masked and
secrets redacted, in the message and in the traceback of logger.exception."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.privacy import logsafety
from bot.privacy.logsafety import REDACTED, install, redact, secrets_from_env

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
