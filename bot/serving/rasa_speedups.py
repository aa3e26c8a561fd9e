"""Speed-ups for Rasa's message path that change no behaviour, installed by
bot.serving.rasa_server before Rasa starts (measured in BENCHMARKS.md, profiled with py-spy).

* Rasa checks every answer of the action server against its JSON schema with
  `jsonschema.validate`, which first checks the schema itself against the JSON Schema
  meta-schema: about 21 ms a call here, two or three calls a message. The schema never
  changes, so it is checked once and its validator kept: about 0.8 ms a call, the same
  errors raised (jsonschema's best match, Rasa's message added).
* Every event read from the tracker store finds its class by walking all subclasses of
  Event (`Event.resolve_by_type`); the classes are looked up in a table built once.
* The tracker sent to the action server with every custom action is serialised with
  ujson (a Rasa dependency) instead of the standard library's json: same JSON, faster.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["install", "installed"]

_state = {"installed": False}


@lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """RemoteAction._validate_action_result with the validator built once."""
    from jsonschema import exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    error = exceptions.best_match(_action_result_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


@lru_cache(maxsize=1)
def _event_classes() -> dict[str, Any]:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    table: dict[str, Any] = {}
    for cls in all_subclasses(Event):
        table.setdefault(cls.type_name, cls)  # the first match wins, as in Rasa's loop
    return table


def _resolve_by_type_with(original: Any) -> Any:
    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = _event_classes().get(type_name)
        return found if found is not None else original(type_name, default)

    return staticmethod(resolve_by_type)


def _session(self: Any) -> Any:
    """EndpointConfig.session as Rasa 3.6 writes it, plus ujson for request bodies."""
    import aiohttp
    import ujson
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT

    auth = None
    if self.basic_auth:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
    return aiohttp.ClientSession(
        headers=self.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        json_serialize=ujson.dumps,
    )


def install() -> None:
    """Patch Rasa in this process (idempotent)."""
    if _state["installed"]:
        return
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import Event
    from rasa.utils.endpoints import EndpointConfig

    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = _resolve_by_type_with(Event.resolve_by_type)
    EndpointConfig.session = _session
    _state["installed"] = True


def installed() -> bool:
    return _state["installed"]
