"""`kopru run`'s channel lines come from the connectors credentials.yml names."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.serving.channel_status import channel_lines, format_lines

ROOT = Path(__file__).resolve().parents[3]
BASE = "http://localhost:5005"


def test_the_project_channels_describe_themselves_in_order() -> None:
    lines = channel_lines(ROOT / "credentials.yml", {}, BASE)
    assert lines == [
        ("Web chat", f"{BASE}/webhooks/webchat/"),
        ("REST channel", f"POST {BASE}/webhooks/rest/webhook"),
        ("Telegram", "off (set TELEGRAM_TOKEN)"),
        ("Slack desk", "off (set SLACK_BOT_TOKEN; escalations become tickets)"),
    ]
    assert format_lines(lines[:1]) == f"  Web chat:       {BASE}/webhooks/webchat/\n"


def test_configured_channels_say_how_they_listen() -> None:
    env = {
        "TELEGRAM_TOKEN": "1:x",
        "TELEGRAM_MODE": "polling",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_AGENT_CHANNEL": "C123",
    }
    lines = dict(channel_lines(ROOT / "credentials.yml", env, BASE))
    assert lines["Telegram"] == "polling"
    assert lines["Slack desk"] == f"channel C123, events at {BASE}/webhooks/slack/events"


def test_a_connector_without_a_status_line_is_listed_by_path(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("rest:\nrasa.core.channels.socketio.SocketIOInput:\n")
    assert channel_lines(credentials, {}, BASE) == [
        ("rasa.core.channels.socketio.SocketIOInput", "on")
    ]


def test_a_channel_that_cannot_be_imported_stops_the_start(tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.yml"
    credentials.write_text("channels.nowhere.Missing:\n")
    with pytest.raises(ConfigError, match=r"channels\.nowhere\.Missing"):
        channel_lines(credentials, {}, BASE)
