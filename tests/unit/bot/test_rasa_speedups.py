"""bot.serving.rasa_speedups changes how fast Rasa does things, not what it does."""

from __future__ import annotations

import jsonschema
import pytest
import ujson
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

from bot.serving import rasa_speedups

VALID = {
    "events": [{"event": "slot", "timestamp": None, "name": "language", "value": "tr"}],
    "responses": [{"text": "Merhaba"}],
}
INVALID = {"events": [{"event": "slot", "name": 3}], "responses": "not a list"}


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    rasa_speedups.install()
    rasa_speedups.install()  # twice is harmless


def _rasa_verdict(result: dict[str, object]) -> str | None:
    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as exc:
        return exc.message
    return None


def test_action_results_are_judged_as_rasa_judges_them() -> None:
    action = RemoteAction("action_x", None)
    assert rasa_speedups.installed()
    assert action._validate_action_result(VALID) is True
    assert _rasa_verdict(VALID) is None
    with pytest.raises(jsonschema.ValidationError) as raised:
        action._validate_action_result(INVALID)
    expected = _rasa_verdict(INVALID)
    assert expected is not None
    assert raised.value.message.startswith(expected)
    assert "Failed to validate Action server response" in raised.value.message


def test_every_event_type_resolves_to_the_class_rasas_loop_finds() -> None:
    for cls in all_subclasses(Event):
        found = next(c for c in all_subclasses(Event) if c.type_name == cls.type_name)
        assert Event.resolve_by_type(cls.type_name) is found
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")


async def test_endpoint_sessions_keep_rasas_settings_and_send_ujson() -> None:
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook", headers={"X-Test": "1"})
    session = endpoint.session()
    try:
        assert session._json_serialize is ujson.dumps
        assert session.headers["X-Test"] == "1"
        assert session.timeout.total is not None
    finally:
        await session.close()
