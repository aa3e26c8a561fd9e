"""The action server's decisions: which addresses are loopback, when it may start, the secret
comparison, and the header Rasa must send."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.serving.action_server import (
    DEFAULT_HOST,
    HOST_ENV,
    SECRET_ENV,
    SECRET_HEADER,
    ActionServerConfig,
    action_endpoint_headers,
    is_loopback,
    secret_ok,
)

SECRET = "s" * 24


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.0.2.10", False),
        ("10.0.0.1", False),
        ("actions.internal", False),
        ("127.0.0.1.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_defaults_listen_on_loopback_without_a_secret() -> None:
    config = ActionServerConfig.from_env({})
    assert (config.host, config.port, config.secret) == (DEFAULT_HOST, 5055, None)


def test_the_flag_wins_over_the_environment() -> None:
    env = {HOST_ENV: "127.0.0.2", SECRET_ENV: SECRET}
    assert ActionServerConfig.from_env(env).host == "127.0.0.2"
    assert ActionServerConfig.from_env(env, host="::1", port=6000).host == "::1"
    assert ActionServerConfig.from_env(env, port=6000).port == 6000


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "actions.internal"])
def test_a_reachable_address_needs_a_secret(host: str) -> None:
    with pytest.raises(ConfigError, match=f"without a shared secret: set {SECRET_ENV}"):
        ActionServerConfig.from_env({HOST_ENV: host})
    with pytest.raises(ConfigError, match="without a shared secret"):
        ActionServerConfig.from_env({SECRET_ENV: ""}, host=host)
    config = ActionServerConfig.from_env({SECRET_ENV: SECRET}, host=host)
    assert config.secret == SECRET


def test_a_short_secret_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        ActionServerConfig.from_env({SECRET_ENV: "short-one"})
    assert "16 characters or longer" in str(refused.value)
    assert "short-one" not in str(refused.value)


def test_the_secret_is_not_in_the_repr() -> None:
    assert SECRET not in repr(ActionServerConfig(secret=SECRET))


def test_secret_ok() -> None:
    assert secret_ok(SECRET, SECRET)
    assert not secret_ok(None, SECRET)
    assert not secret_ok("", SECRET)
    assert not secret_ok(SECRET[:-1], SECRET)
    assert not secret_ok(SECRET + "s", SECRET)
    assert secret_ok("şifre-" + SECRET, "şifre-" + SECRET)  # non-ASCII compares too
    assert not secret_ok("sifre-" + SECRET, "şifre-" + SECRET)


def test_the_header_rasa_sends() -> None:
    assert SECRET_HEADER == "X-Kopru-Action-Secret"
    assert action_endpoint_headers(SECRET) == {"X-Kopru-Action-Secret": SECRET}
