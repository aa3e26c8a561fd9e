"""The supervisor's health watch: the decision (checks so far + this check -> keep or
restart), and the supervisor's step that acts on it, with a fake check and a child that
sleeps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.serving.health import Action, HealthPolicy, HealthState, judge
from bot.serving.runner import Supervisor
from tests.waiting import wait_until

POLICY = HealthPolicy(interval=5.0, timeout=3.0, max_failures=3, startup_grace=60.0)


@pytest.mark.parametrize(
    ("state", "ok", "now", "expected", "action"),
    [
        # Answering clears the failures, at any time.
        (HealthState(0, True, 2), True, 100, HealthState(0, True, 0), Action.KEEP),
        (HealthState(0, False, 5), True, 10, HealthState(0, True, 0), Action.KEEP),
        # A child that answered before: restarted at the third failure in a row.
        (HealthState(0, True, 0), False, 100, HealthState(0, True, 1), Action.KEEP),
        (HealthState(0, True, 1), False, 100, HealthState(0, True, 2), Action.KEEP),
        (HealthState(0, True, 2), False, 100, HealthState(0, True, 3), Action.RESTART),
        (HealthState(0, True, 7), False, 100, HealthState(0, True, 8), Action.RESTART),
        # Starting (no answer yet): failures count, but it gets the grace first...
        (HealthState(0, False, 9), False, 59.9, HealthState(0, False, 10), Action.KEEP),
        # ...and after it, a child that never answered is restarted.
        (HealthState(0, False, 9), False, 60, HealthState(0, False, 10), Action.RESTART),
        (HealthState(0, False, 0), False, 60, HealthState(0, False, 1), Action.KEEP),
        # The grace counts from the restart, not from the supervisor's start.
        (HealthState(50, True, 2), False, 51, HealthState(50, True, 3), Action.RESTART),
        (HealthState(50, False, 2), False, 51, HealthState(50, False, 3), Action.KEEP),
    ],
)
def test_the_decision(
    state: HealthState, ok: bool, now: float, expected: HealthState, action: Action
) -> None:
    assert judge(state, ok, now, POLICY) == (expected, action)


def test_a_policy_that_could_never_decide_is_refused() -> None:
    for unusable in ({"interval": 0}, {"timeout": -1}, {"max_failures": 0}):
        with pytest.raises(ValueError, match="unusable"):
            HealthPolicy(**unusable)  # type: ignore[arg-type]


def _step(supervisor: Supervisor, now: float) -> None:
    """One tend at `now`, then wait for the check it started (the checks run in threads)."""
    assert supervisor.tend(now) is None
    check = supervisor.children[0].check
    if check is not None:
        wait_until(check.done, timeout=5, what="the health check")


def test_a_child_that_stops_answering_is_stopped_and_restarted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([True, False, True, False, False, False])
    checked: list[str] = []

    def check(url: str, timeout: float) -> bool:
        checked.append(url)
        assert timeout == 3.0
        return next(answers)

    supervisor = Supervisor(health_policy=POLICY, kill_grace=2.0, health_probe=check)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor.start("sleeper", sleeper, "http://127.0.0.1:9/health", {}, tmp_path)
    child = supervisor.children[0]
    first = child.process
    try:
        # A check every 5 s; the one in between is not due.
        for now in (1000, 1002, 1005, 1010, 1015, 1020):
            _step(supervisor, now)
        # Each result is seen at the next step: ok, no, ok, no so far (the 5th under way).
        assert len(checked) == 5 and child.health.failures == 1
        _step(supervisor, 1025)
        assert child.health.failures == 2 and child.kill_at is None
        _step(supervisor, 1026)  # the third failure in a row: SIGTERM
        assert child.kill_at == 1028.0
        first.wait(5)
        assert first.returncode == -15
        assert (
            "sleeper stopped answering http://127.0.0.1:9/health (3 checks failed"
            in capsys.readouterr().err
        )
        _step(supervisor, 1027)  # it has exited: restarted as any child that exits
        assert child.process is not first and child.process.poll() is None
        assert child.restarts == [1027] and child.kill_at is None
        assert child.health == HealthState(1027)
    finally:
        supervisor.stop(grace=2)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    answers = iter([True, False])
    supervisor = Supervisor(
        health_policy=HealthPolicy(max_failures=1),
        kill_grace=2.0,
        health_probe=lambda url, timeout: next(answers),
    )
    stubborn = [
        sys.executable, "-c",
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        " time.sleep(60)",
    ]  # fmt: skip
    supervisor.start("stubborn", stubborn, "http://127.0.0.1:9/health", {}, tmp_path)
    child = supervisor.children[0]
    first = child.process
    try:
        wait_until(lambda: _ignores_sigterm(first.pid), timeout=10, what="SIGTERM ignored")
        _step(supervisor, 100)
        _step(supervisor, 105)  # it answered; the next check fails
        _step(supervisor, 106)  # the failure seen: SIGTERM, ignored
        assert child.kill_at == 108.0
        with pytest.raises(subprocess.TimeoutExpired):
            first.wait(0.5)
        _step(supervisor, 107.9)
        assert first.poll() is None
        _step(supervisor, 108)  # the grace is over: SIGKILL
        assert first.wait(5) == -9
    finally:
        supervisor.stop(grace=1)


def _ignores_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << 14))  # SIGTERM is 15
    return False


def test_a_child_without_a_health_url_is_never_checked(tmp_path: Path) -> None:
    checked: list[str] = []

    def check(url: str, timeout: float) -> bool:
        checked.append(url)
        return False

    supervisor = Supervisor(health_probe=check)
    supervisor.start("consumer", [sys.executable, "-c", "import time; time.sleep(60)"], "", {},
                     tmp_path)  # fmt: skip
    try:
        for now in range(0, 100, 5):
            assert supervisor.tend(float(now)) is None
        assert checked == [] and supervisor.children[0].process.poll() is None
    finally:
        supervisor.stop(grace=2)
