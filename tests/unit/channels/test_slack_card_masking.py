"""Personal data in the Slack context card: masked as kopru.yml's `privacy` says (card
numbers always), the customer's name as it is; and the desk posting it that way."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.desk.handoff import Handoff, State
from bot.errors import ConfigError
from bot.privacy.masking import ALL_KINDS, Kind
from bot.settings import PROJECT_ROOT
from channels.slack_card import card, thread_customer_message
from channels.slack_desk import SlackConfig, SlackDesk
from tests.fakes.slack_api import DEFAULT_TOKEN, FakeSlack

AGENTS = "CAGENTS01"
CREATED = 1_700_000_000.0
EMAIL = "ayse.yilmaz@example.com"
PHONE = "0532 123 45 67"
CARD = "4242 4242 4242 4242"
IBAN = "TR33 0006 1005 1978 6457 8413 26"


def make_handoff() -> Handoff:
    return Handoff(
        id=7,
        reference="E-7F3A2C",
        sender_id="5550001",
        session_started_at=CREATED - 120,
        conversation_id=3,
        channel="telegram",
        language="tr",
        reason="customer_request",
        state=State.QUEUED,
        created_at=CREATED,
        context={
            "customer_name": "Ayşe Yılmaz",
            "intents": [{"name": "request_human", "confidence": 0.99}],
            "slots": {"order_number": "204518", "email": EMAIL, "return_reason": f"ara {PHONE}"},
            "transcript": [
                {"speaker": "customer", "text": f"Siparişim 204518, mailim {EMAIL}", "at": 1.0},
                {"speaker": "customer", "text": f"kartım {CARD}, IBAN {IBAN}", "at": 2.0},
                {"speaker": "bot", "text": f"Sizi {PHONE} numarasından arayacağız", "at": 3.0},
            ],
        },
    )


def dump(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_the_card_masks_every_kind_by_default() -> None:
    text = dump(card(make_handoff(), earlier=[], now=CREATED))
    for personal in (EMAIL, PHONE, CARD, IBAN):
        assert personal not in text
    assert "*Email:* a***@example.com" in text
    assert "kartım **** **** **** 4242, IBAN TR** **** **** **** **** **13 26" in text
    assert "*Return reason:* ara **** *** *5 67" in text
    assert "Sizi **** *** *5 67 numarasından" in text
    # What the agent needs stays: the name, the order number, the reference.
    assert "Ayşe Yılmaz" in text
    assert "*Order number:* 204518" in text and "Siparişim 204518" in text


def test_kinds_left_out_are_shown_but_card_numbers_never_are() -> None:
    text = dump(card(make_handoff(), earlier=[], now=CREATED, masked=frozenset()))
    assert EMAIL in text and PHONE in text and IBAN in text
    assert CARD not in text and "**** **** **** 4242" in text
    only_phone = dump(card(make_handoff(), earlier=[], now=CREATED, masked={Kind.PHONE}))
    assert EMAIL in only_phone and PHONE not in only_phone and CARD not in only_phone


def test_thread_messages_mask_card_numbers_only() -> None:
    message = thread_customer_message(make_handoff(), f"kart {CARD}, mail {EMAIL} & <!here>")
    text = dump(message)
    assert CARD not in text and "**** **** **** 4242" in text
    assert EMAIL in text
    assert "&amp; &lt;!here&gt;" in text  # still escaped after masking


def write_config(tmp_path: Path, privacy: object) -> Path:
    raw = yaml.safe_load((PROJECT_ROOT / "kopru.yml").read_text(encoding="utf-8"))
    raw["privacy"] = privacy
    path = tmp_path / "kopru.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def slack_env(config: Path, base_url: str = "http://127.0.0.1:9/api/") -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": DEFAULT_TOKEN,
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": base_url,
        "KOPRU_CONFIG": str(config),
    }


def test_the_slack_configuration_takes_the_rule_from_kopru_yml(tmp_path: Path) -> None:
    config = SlackConfig.from_env(slack_env(write_config(tmp_path, {"mask_in_slack_card": []})))
    assert config is not None and config.card_masking == {Kind.CARD}
    config = SlackConfig.from_env(slack_env(PROJECT_ROOT / "kopru.yml"))
    assert config is not None and config.card_masking == ALL_KINDS
    with pytest.raises(ConfigError, match="unknown kind 'mail'"):
        SlackConfig.from_env(slack_env(write_config(tmp_path, {"mask_in_slack_card": ["mail"]})))


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_channel(AGENTS, [], name="support-agents")
        yield slack


@pytest.mark.parametrize(("privacy", "email_shown"), [(["email"], False), (["phone"], True)])
async def test_the_desk_posts_the_card_masked_as_configured(
    fake: FakeSlack, tmp_path: Path, privacy: list[str], email_shown: bool
) -> None:
    env = slack_env(write_config(tmp_path, {"mask_in_slack_card": privacy}), fake.base_url)
    config = SlackConfig.from_env(env)
    assert config is not None
    await SlackDesk(config).show(make_handoff(), earlier=[], place=1)
    (posted,) = fake.messages(AGENTS)
    text = json.dumps(posted["blocks"], ensure_ascii=False)
    assert (EMAIL in text) is email_shown
    assert CARD not in text
