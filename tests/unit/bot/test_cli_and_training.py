"""The command line's shape, the model fingerprint and the runner's endpoints file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.authoring.training import data_fingerprint, model_path
from bot.cli import build_parser
from bot.serving.runner import effective_endpoints
from bot.settings import PROJECT_ROOT


@pytest.mark.parametrize("command", ["run", "train", "shell", "actions", "demo-backend"])
def test_every_command_explains_itself(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", command, "--help"],
        capture_output=True, text=True, check=False, cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert result.returncode == 0
    assert "usage: kopru " + command in result.stdout
    assert len(result.stdout.splitlines()) > 3


def test_run_defaults() -> None:
    args = build_parser().parse_args(["run"])
    assert (args.port, args.action_port, args.demo_backend_port) == (5005, 5055, 5056)
    assert args.no_demo_backend is False


def test_unknown_command_is_refused() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fly"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    return tmp_path


def test_fingerprint_follows_the_training_data(project: Path) -> None:
    before = data_fingerprint(project)
    assert data_fingerprint(project) == before
    (project / "README.md").write_text("not training data")
    assert data_fingerprint(project) == before
    rules = project / "data" / "rules.yml"
    rules.write_text(rules.read_text() + "\n# a comment changes the file\n")
    changed = data_fingerprint(project)
    assert changed != before
    assert model_path(project, project / "models").name == f"kopru-{changed}.tar.gz"


def test_effective_endpoints_point_at_our_action_server(tmp_path: Path) -> None:
    target = effective_endpoints(PROJECT_ROOT / "endpoints.yml", 6123, tmp_path / "e.yml")
    data = yaml.safe_load(target.read_text())
    assert data["action_endpoint"]["url"] == "http://127.0.0.1:6123/webhook"
    # everything else is the user's configuration, untouched
    original = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text())
    assert data["tracker_store"] == original["tracker_store"]


def test_run_refuses_a_half_configured_slack_desk_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.serving.runner import RunConfig, run

    config = RunConfig(root=PROJECT_ROOT, model=tmp_path / "missing.tar.gz", port=1)
    code = run(config, {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    assert code == 2
    assert "SLACK_AGENT_CHANNEL" in capsys.readouterr().err
    # nothing left behind: the endpoints it wrote hold the action server's secret
    assert not (PROJECT_ROOT / "var" / "run" / "endpoints-1.yml").exists()


def test_the_action_server_keeps_connections_open_through_a_model_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.serving.runner import Supervisor

    started: list[dict[str, str]] = []
    monkeypatch.setattr(
        Supervisor, "start", lambda self, name, argv, health, env, cwd: started.append(env)
    )
    Supervisor().start_action_server(5055, {"PATH": "/bin"}, PROJECT_ROOT)
    assert started[0]["SANIC_KEEP_ALIVE_TIMEOUT"] == "75"
    assert started[0]["PATH"] == "/bin"
