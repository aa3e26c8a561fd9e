"""bot/quiet.py: third-party deprecation notices hidden at start, Köprü's and real ones kept."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bot import quiet


def _file(module: str) -> str:
    """Where a warning attributed to `module` comes from: Köprü's folders, or a library's."""
    if module.split(".")[0] in ("bot", "channels", "actions"):
        package = importlib.import_module(module.split(".")[0])
        return str(Path(package.__file__ or "").parent / "module.py")
    return f"/usr/lib/python3/dist-packages/{module.replace('.', '/')}.py"


def _shown(module: str, category: type[Warning]) -> bool:
    with warnings.catch_warnings(record=True) as seen:  # filters restored afterwards
        warnings.resetwarnings()
        warnings.simplefilter("default")  # as `python -W default`: everything shows once
        quiet.install()
        warnings.warn_explicit("notice", category, _file(module), 1, module=module, registry={})
    return bool(seen)


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TF_CPP_MIN_LOG_LEVEL", "SQLALCHEMY_SILENCE_UBER_WARNING", quiet.SWITCH):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("module", ["rasa.core.agent", "sqlalchemy.orm", "tensorflow", "botany"])
def test_a_library_deprecation_is_hidden(module: str) -> None:
    assert not _shown(module, DeprecationWarning)
    assert not _shown(module, PendingDeprecationWarning)


@pytest.mark.parametrize("module", ["bot", "bot.web.app", "channels.telegram", "actions"])
def test_a_deprecation_in_koprus_own_code_still_shows(module: str) -> None:
    assert _shown(module, DeprecationWarning)


def test_other_warnings_still_show() -> None:
    assert _shown("rasa.shared.utils.io", UserWarning)
    assert _shown("numpy", RuntimeWarning)


def test_the_switch_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(quiet.SWITCH, "all")
    assert _shown("rasa.core.agent", DeprecationWarning)
    env: dict[str, str] = {quiet.SWITCH: "all"}
    quiet.quiet_environment(env)
    assert env == {quiet.SWITCH: "all"}


def test_the_libraries_switches_are_set_but_an_operators_choice_wins() -> None:
    env = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    quiet.quiet_environment(env)
    assert env == {"TF_CPP_MIN_LOG_LEVEL": "0", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}


def test_importing_rasa_after_install_prints_no_deprecation() -> None:
    code = (
        "from bot.quiet import install; install(); "
        "import rasa.core.agent, sqlalchemy.orm, sanic_cors, matplotlib.pyplot"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "default"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Deprecat" not in done.stderr, done.stderr[-2000:]
    assert "I tensorflow" not in done.stderr, done.stderr[-2000:]


def test_a_filter_added_later_does_not_bring_a_library_deprecation_back() -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()
        quiet.install()
        warnings.filterwarnings("once", category=UserWarning)  # as Rasa does at start

        class Both(UserWarning, DeprecationWarning):  # as pyparsing's deprecation is
            pass

        library = "/usr/lib/python3/dist-packages/library.py"
        warnings.warn_explicit("old", Both, library, 1, module="library", registry={})
        own = str(Path(quiet.__file__))
        warnings.warn_explicit("ours", Both, own, 1, module="bot.quiet", registry={})
    assert [str(w.message) for w in seen] == ["ours"]


def test_rasa_training_through_the_quiet_entry_point_prints_no_deprecation() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "default", "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(  # a real Rasa command, fast: its version
        [sys.executable, "-m", "bot.quiet", "rasa", "--version"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Rasa Version" in done.stdout
    assert "Deprecat" not in done.stderr, done.stderr[-2000:]
