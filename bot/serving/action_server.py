"""The action server, Köprü's way: rasa-sdk's app on the configured address, behind a secret.

rasa-sdk's own `run` listens on `SANIC_HOST` or 0.0.0.0 and lets anyone who reaches it run
any action. Here the address comes from `--host` or KOPRU_ACTION_HOST (127.0.0.1 by
default), and every path but /health needs the shared secret KOPRU_ACTION_SECRET in the
header X-Kopru-Action-Secret. The Rasa server sends it from `headers:` of the
action_endpoint in endpoints.yml (`action_endpoint_headers`). Without a secret the server
only starts on a loopback address.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.observability import ACTIONS_PORT_ENV, metrics, start_metrics_listener

__all__ = [
    "DEFAULT_HOST",
    "HOST_ENV",
    "MIN_SECRET_LENGTH",
    "OPEN_PATHS",
    "SECRET_ENV",
    "SECRET_HEADER",
    "ActionServerConfig",
    "action_endpoint_headers",
    "create_app",
    "is_loopback",
    "secret_ok",
    "serve",
]

if TYPE_CHECKING:  # sanic is imported when the app is built, not when the config is read
    from sanic import Request, Sanic
    from sanic.response import BaseHTTPResponse, HTTPResponse

logger = logging.getLogger(__name__)

SECRET_ENV = "KOPRU_ACTION_SECRET"  # noqa: S105 - a variable name
HOST_ENV = "KOPRU_ACTION_HOST"
SECRET_HEADER = "X-Kopru-Action-Secret"  # noqa: S105 - a header name
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
MIN_SECRET_LENGTH = 16
OPEN_PATHS = frozenset({"/health"})
ACTIONS_PACKAGE = "actions"
REFUSED_MESSAGE = f"This action server needs its shared secret in the {SECRET_HEADER} header."


def action_endpoint_headers(secret: str) -> dict[str, str]:
    """The `headers:` of endpoints.yml's action_endpoint that let Rasa call this server.

    Rasa's EndpointConfig sends them with every action call. Rasa expands `${VAR}` in
    endpoints.yml, so `action_endpoint_headers("${KOPRU_ACTION_SECRET}")` keeps the secret
    itself out of the file (the Rasa server then needs KOPRU_ACTION_SECRET in its env).
    """
    return {SECRET_HEADER: secret}


def is_loopback(host: str) -> bool:
    """Whether `host` is only reachable from this machine (127.0.0.0/8, ::1, localhost);
    a wildcard (0.0.0.0, ::) or any other name counts as reachable from elsewhere."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def secret_ok(presented: str | None, secret: str) -> bool:
    """Whether the request's header value is the secret (compared in constant time)."""
    if not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), secret.encode("utf-8"))


@dataclass(frozen=True)
class ActionServerConfig:
    """Where the action server listens and the secret callers must present."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.host.strip():
            raise ConfigError("the action server's host must not be empty")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"the action server's port must be 0-65535, got {self.port}")
        if self.secret is not None and len(self.secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"{SECRET_ENV} must be {MIN_SECRET_LENGTH} characters or longer "
                f"(it has {len(self.secret)})"
            )
        if self.secret is None and not is_loopback(self.host):
            raise ConfigError(
                f"the action server would listen on {self.host}, reachable from other "
                f"machines, without a shared secret: set {SECRET_ENV} (and send it from the "
                f"Rasa server as the {SECRET_HEADER} header of action_endpoint in "
                "endpoints.yml), or listen on 127.0.0.1"
            )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        host: str | None = None,
        port: int = DEFAULT_PORT,
    ) -> ActionServerConfig:
        """`host` (from --host) wins over KOPRU_ACTION_HOST, else 127.0.0.1; the secret
        is KOPRU_ACTION_SECRET (empty: none). ConfigError when the combination is unsafe."""
        env = os.environ if env is None else env
        return cls(
            host=host or env.get(HOST_ENV) or DEFAULT_HOST,
            port=port,
            secret=env.get(SECRET_ENV) or None,
        )


def _refused(request: Request, reason: str) -> HTTPResponse:
    from sanic.response import json

    # The presented value is never logged: a wrong secret may be a right one, mistyped.
    logger.warning(
        "Refused %s %s from %s: %s", request.method, request.path, request.ip or "?", reason
    )
    return json({"error": REFUSED_MESSAGE}, status=401)


def create_app(secret: str | None, package: str = ACTIONS_PACKAGE) -> Sanic:
    """rasa-sdk's Sanic app for the actions in `package`, with the secret required on every
    path but /health (when `secret` is None nothing is required: loopback only)."""
    from rasa_sdk.endpoint import create_app as sdk_create_app
    from rasa_sdk.plugin import plugin_manager

    from bot.serving.http_guard import guard

    # No CORS: only the Rasa server calls this, never a browser.
    app: Sanic = sdk_create_app(package, cors_origins=None)

    async def require_secret(request: Request) -> HTTPResponse | None:
        if secret is None or request.path.rstrip("/") in OPEN_PATHS:
            return None
        presented = request.headers.get(SECRET_HEADER)
        if presented is None:
            return _refused(request, f"no {SECRET_HEADER} header")
        if not secret_ok(presented, secret):
            return _refused(request, f"wrong {SECRET_HEADER}")
        return None

    async def count_failures(request: Request, response: BaseHTTPResponse) -> None:
        # rasa-sdk lets an action's exception reach Sanic, which logs it and answers 500.
        if getattr(response, "status", 0) >= 500 and request.path.rstrip("/") == "/webhook":
            metrics().error("action_server")

    guard(app)  # a malformed Content-Length is refused before any body is read
    app.register_middleware(require_secret, "request")
    app.register_middleware(count_failures, "response")
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    return app


def warm_up(package: str = ACTIONS_PACKAGE) -> None:
    """Call the actions package's own `warm_up()`, if it has one, before the first request:
    a broken configuration or store fails at start, not at a customer's first message.
    The package is named, not imported, here: bot/ sits below the actions that use it."""
    import importlib

    hook = getattr(importlib.import_module(package), "warm_up", None)
    if callable(hook):
        hook()


def serve(config: ActionServerConfig, package: str = ACTIONS_PACKAGE) -> None:
    """Serve until stopped. Sanic reads SANIC_* variables (SANIC_KEEP_ALIVE_TIMEOUT, which
    `kopru run` sets) into the app's config; ACTION_SERVER_SANIC_WORKERS as in rasa-sdk."""
    from rasa_sdk import utils

    from bot.serving.gauges import database_gauges
    from bot.settings import Settings

    app = create_app(config.secret, package)
    # Off unless KOPRU_ACTIONS_METRICS_PORT is set; a forked Sanic worker
    # (ACTION_SERVER_SANIC_WORKERS > 1) would count into a registry no one serves.
    start_metrics_listener(
        ACTIONS_PORT_ENV, collectors=[database_gauges(Settings.from_env().database_url)]
    )
    if config.secret is None:
        logger.warning(
            "No %s: any process on this machine may run actions (listening on %s only)",
            SECRET_ENV,
            config.host,
        )
    logger.info(
        "Action server on http://%s:%s (secret %s)",
        config.host,
        config.port,
        "required" if config.secret else "not required",
    )
    app.run(config.host, config.port, workers=utils.number_of_sanic_workers())
