"""`kopru run` writes its files (the endpoints file, with its secrets) under KOPRU_VAR_DIR,
as every other part of Köprü does, and into the checkout's var/ only without it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.serving import runner
from bot.serving.runner import RunConfig, StartupFailed, Supervisor, run_var_dir

MODEL = Path("/models/kopru-0000000000000000.tar.gz")


def test_the_var_dir_is_kopru_var_dir_else_the_checkouts(tmp_path: Path) -> None:
    assert run_var_dir(tmp_path, {}) == tmp_path / "var"
    assert run_var_dir(tmp_path, {"KOPRU_VAR_DIR": ""}) == tmp_path / "var"
    assert run_var_dir(tmp_path, {"KOPRU_VAR_DIR": "/srv/kopru"}) == Path("/srv/kopru")
    # Relative: to the checkout, the children's working directory, where they resolve it.
    assert run_var_dir(tmp_path, {"KOPRU_VAR_DIR": "state"}) == tmp_path / "state"


@pytest.fixture
def endpoints_seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Path, bool]]]:
    """The endpoints file given to the Rasa server, and whether it existed then."""
    seen: list[tuple[Path, bool]] = []

    def start(self: Supervisor, name: str, argv: Any, health_url: str, env: dict[str, str],
              cwd: Path) -> None:  # fmt: skip
        if "--endpoints" in argv:
            path = Path(argv[list(argv).index("--endpoints") + 1])
            seen.append((path, path.is_file()))

    def wait_all_healthy(self: Supervisor, timeout: float) -> None:
        raise StartupFailed("stopped by the test")

    monkeypatch.setattr(Supervisor, "start", start)
    monkeypatch.setattr(Supervisor, "wait_all_healthy", wait_all_healthy)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


@pytest.mark.parametrize("through", ["environment", "extra_env"])
def test_run_writes_its_endpoints_file_under_kopru_var_dir(
    tmp_path: Path, endpoints_seen: list[tuple[Path, bool]], through: str
) -> None:
    checkout, var = tmp_path / "checkout", tmp_path / "elsewhere"
    checkout.mkdir()
    (checkout / "endpoints.yml").write_text("action_endpoint:\n  url: http://elsewhere/\n")
    (checkout / "credentials.yml").write_text("rest:\n")
    setting = {"KOPRU_VAR_DIR": str(var)}
    config = RunConfig(root=checkout, model=MODEL, port=50_006, action_port=50_056,
                       demo_backend=False, web_port=0,
                       extra_env=setting if through == "extra_env" else {})  # fmt: skip
    assert runner.run(config, setting if through == "environment" else {}) == 1
    assert endpoints_seen == [(var / "run" / "endpoints-50006.yml", True)]
    assert not (checkout / "var").exists()
    assert not (var / "run" / "endpoints-50006.yml").exists()  # removed at the stop
