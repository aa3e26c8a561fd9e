"""Train a model in the background, with progress and the log, for the admin web app.

One `Trainer` runs at most one training at a time in the running asyncio loop. The
training reads a snapshot of the project's training files (config.yml, domain.yml,
data/), taken when it starts, so that editing data/ while it runs neither changes what
is trained nor gives the model a name that does not match its data. The snapshot is
trained by a child process (`python -m bot.authoring.trainer SNAPSHOT MODELS_DIR`) that calls
`bot.authoring.training.ensure_model`, so the model is named and locked exactly as `kopru train`
does it.

Progress comes from Rasa's log: "Starting to train component 'X'", "Finished training
component 'X'" / "Restored component 'X' from cache", the epochs bar of Rasa's
TensorFlow components (DIETClassifier, ResponseSelector, TEDPolicy) when configured, and
"Your Rasa model is trained and saved at '...'". Each phase and component weighs the
seconds it took in a calibration run on 2 cores (see `COMPONENT_SECONDS`), so the
percentage follows the clock for the shipped config. Rasa does not train the components
in config.yml's order (with the shipped config it trains the policies first), so the
percentage counts which components are done, not how far down config.yml they are.

A failed training keeps the reason (Rasa's error message, else the exception of a
traceback, else the last lines) and activates nothing. After a successful one the
`on_success` callback gets the model's path (the web app activates it).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import datetime as dt
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.authoring.training import child_env, model_path
from bot.errors import KopruError
from bot.observability import metrics
from bot.settings import PROJECT_ROOT
from bot.storage.files import LockBusy, file_lock

__all__ = [
    "COMPONENT_SECONDS",
    "LogFollower",
    "Trainer",
    "TrainingInProgress",
    "TrainingJob",
    "TrainingProgress",
    "training_plan",
]

Status = Literal["queued", "running", "succeeded", "failed"]
LOG_LINES = 500
MODEL_MARKER = "KOPRU-MODEL: "
TICK_SECONDS = 1.0  # the percentage moves at least this often

# Seconds each step took in the calibration run: the shipped config and data, 2 cores,
# `rasa train` on an empty cache (log timestamps, and the cache's file times for the
# sub-second steps). Rasa trained MemoizationPolicy, RulePolicy and KopruPolicy first,
# then RegexEntityExtractor, KopruIntentClassifier and KopruResponseSelector. A wait
# before a component (Rasa preparing its input) is counted in that component:
# RegexEntityExtractor's 1.1 s is tokenizing the NLU data (it was part of "preparing"
# when Rasa trained the NLU components first). "preparing" runs from the first
# validator line to the first component; "saving" from the last component's end to
# the "trained and saved" line (writing the archive). "starting" (before Rasa's first
# log line) and "validating" (7 s in the log's whole seconds) are from the calibration
# of the former pipeline.
PHASE_SECONDS = {"starting": 1.5, "validating": 6.7, "preparing": 5.0, "saving": 2.5}
COMPONENT_SECONDS = {
    "MemoizationPolicy": 0.1,
    "RulePolicy": 0.1,
    "KopruPolicy": 0.1,
    "RegexEntityExtractor": 1.1,
    "KopruIntentClassifier": 27.3,  # silent: encodes the examples, then fits its SVMs
    "KopruResponseSelector": 0.3,
    # Köprü's former pipeline, from its calibration run (Rasa trained the NLU first then,
    # and the wait after a component was counted in it).
    "RegexFeaturizer": 1.3,
    "CountVectorsFeaturizer": 4.2,
    "LogisticRegressionClassifier": 28.0,
    "ResponseSelector": 9.0,
    # Never in Köprü's config; rough guesses so that a changed config still makes sense.
    "DIETClassifier": 30.0,
    "TEDPolicy": 30.0,
    "UnexpecTEDIntentPolicy": 20.0,
}
DEFAULT_COMPONENT_SECONDS = 3.0
# Configured components that Rasa runs without training them: never logged as trained.
NOT_TRAINED = frozenset(
    {
        "WhitespaceTokenizer",
        "JiebaTokenizer",
        "MitieTokenizer",
        "SpacyTokenizer",
        "MitieNLP",
        "SpacyNLP",
        "LanguageModelFeaturizer",
        "MitieFeaturizer",
        "SpacyFeaturizer",
        "SpacyEntityExtractor",
        "DucklingEntityExtractor",
        "FallbackClassifier",
    }
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
RED = "\x1b[91m"  # rasa.shared.utils.io.bcolors.FAIL: Rasa's error messages
RESET = "\x1b[0m"
STARTED = re.compile(r"Starting to train component '(\w+)'")
FINISHED = re.compile(r"(?:Finished training component|Restored component) '(\w+)'")
EPOCHS = re.compile(r"Epochs:\s+\d+%.*?\|\s*(\d+)/(\d+)")
SAVED = re.compile(r"Your Rasa model is trained and saved at '(.+)'")
LOG_ERROR = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(?:ERROR|CRITICAL)\s")
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::\s.*)?$")  # "pkg.SomeError: message"


class TrainingInProgress(KopruError):
    """A training is already running; one at a time."""


def training_plan(config: Path) -> list[str]:
    """The components `rasa train` logs as trained, read from config.yml, in config.yml's
    order; Rasa may train them in another one (the progress does not depend on it).
    Empty when config.yml cannot be read (the training then says why)."""
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    if not isinstance(data, dict):
        return []
    plan: list[str] = []
    for section in ("pipeline", "policies"):
        for item in data.get(section) or []:
            name = str(item.get("name", "")) if isinstance(item, dict) else ""
            short = name.rsplit(".", 1)[-1]
            if short and short not in NOT_TRAINED:
                plan.append(short)
    return plan


class TrainingProgress:
    """Stage and percentage from Rasa's log lines; the percentage never goes back.

    Each step (a phase or a component) weighs its calibrated seconds. The percentage is
    the weight of the phases and components done, in whatever order Rasa trains them,
    plus the time spent in the running step: while a step runs without saying anything
    (the KopruIntentClassifier: ~27 s, encoding the examples), `tick()` moves the
    percentage with the clock, up to 90 % of the step's expected time. Once the last
    planned component is done the model is being saved; once Rasa says it is saved, only
    the process's exit is left (99 % until `finish()`).
    """

    def __init__(self, plan: Sequence[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.plan = list(plan)
        self.remaining = list(plan)
        self.total = sum(PHASE_SECONDS.values()) + sum(map(_seconds, plan))
        self.clock = clock
        self.phases_done = 0.0
        self.components_done = 0.0
        self.stage = "starting"
        self.percent = 0
        self._step: str | None = None
        self._step_seconds = 0.0
        self._step_since = 0.0
        self._step_fraction = 0.0  # from the step's own progress bar (epochs)
        self._begin("starting", PHASE_SECONDS["starting"])

    def feed(self, line: str) -> None:
        """Take one log line (without ANSI colours) into account."""
        if "Waiting for another training" in line:
            self.stage = "waiting for another training to finish"
            self._step = None
        elif "Started validating domain and training data" in line:
            self._phases_done("starting")
            self._begin("validating", PHASE_SECONDS["validating"], "validating the data")
        elif "rasa.validator" in line and self._step in ("starting", "validating"):
            self._phases_done("starting", "validating")
            self._begin("preparing", PHASE_SECONDS["preparing"], "preparing the training")
        elif match := STARTED.search(line):
            self._phases_done("starting", "validating", "preparing")
            self._begin(match[1], _seconds(match[1]), f"training {match[1]}")
        elif match := FINISHED.search(line):
            self._phases_done("starting", "validating", "preparing")
            if self._step == match[1]:
                self._step = None
            if match[1] in self.remaining:
                self.remaining.remove(match[1])
                self.components_done += _seconds(match[1])
                if not self.remaining:  # Rasa now writes the archive
                    self._begin("saving", PHASE_SECONDS["saving"], "saving the model")
        elif (match := EPOCHS.search(line)) and self._step is not None and int(match[2]):
            self._step_fraction = min(1.0, int(match[1]) / int(match[2]))
        elif SAVED.search(line):
            self._phases_done("starting", "validating", "preparing", "saving")
            self.remaining = []
            self.components_done = sum(map(_seconds, self.plan))
            self._step, self.stage = None, "saving the model"
        self.tick()

    def tick(self) -> None:
        """Recompute the percentage (call it now and then while nothing is logged)."""
        partial = 0.0
        if self._step is not None:
            elapsed = max(0.0, self.clock() - self._step_since)
            partial = max(self._step_seconds * self._step_fraction,
                          min(0.9 * self._step_seconds, elapsed))  # fmt: skip
        done = self.phases_done + self.components_done + partial
        # 99 at most until the process has exited well (finish()).
        self.percent = max(self.percent, min(99, int(100 * done / self.total)))

    def finish(self) -> None:
        self.stage, self.percent, self._step = "done", 100, None

    def _begin(self, step: str, seconds: float, stage: str | None = None) -> None:
        self._step, self._step_seconds = step, seconds
        self._step_since, self._step_fraction = self.clock(), 0.0
        if stage is not None:
            self.stage = stage

    def _phases_done(self, *phases: str) -> None:
        self.phases_done = max(self.phases_done, sum(PHASE_SECONDS[p] for p in phases))


def _seconds(component: str) -> float:
    return COMPONENT_SECONDS.get(component, DEFAULT_COMPONENT_SECONDS)


class LogFollower:
    """Follows the child's output: the log's tail, the progress, the failure reason and
    the model's path. Feed it raw output with `write` (any chunks) and `close`."""

    def __init__(
        self,
        plan: Sequence[str],
        log: deque[str] | None = None,
        *,
        rename: tuple[str, str] | None = None,
    ) -> None:
        self.rename = rename  # (snapshot directory, project root) as shown to people
        self.lines: deque[str] = deque(maxlen=LOG_LINES) if log is None else log
        self.progress = TrainingProgress(plan)
        self.model: Path | None = None
        self._pending = ""
        self._in_red = False  # inside Rasa's red error message (it may span lines)
        self._red_lines: list[str] = []
        self._errors: list[str] = []  # the last complete red message
        self._error_logs: deque[str] = deque(maxlen=5)
        self._in_traceback = False
        self._exception: str | None = None

    def write(self, text: str) -> None:
        """Raw output: lines end with \\n; a progress bar redraws its line after \\r."""
        data = self._pending + text
        held = "\r" if data.endswith("\r") else ""  # may be the start of \r\n
        parts = re.split(r"(\r\n|\n|\r)", data.removesuffix(held) if held else data)
        self._pending = parts.pop() + held  # not ended yet
        for line, end in zip(parts[::2], parts[1::2], strict=True):
            self.feed(line, transient=end == "\r")

    def close(self) -> None:
        if self._pending:
            self.feed(self._pending)
            self._pending = ""
        if self._in_red:  # a red message never reset
            self._in_red, self._errors = False, _non_empty(self._red_lines)

    def feed(self, raw: str, *, transient: bool = False) -> None:
        """One raw line. Transient ones (a progress bar redrawn in place) move the
        progress but are not kept in the log."""
        if self.rename is not None:
            raw = raw.replace(*self.rename)
        self._track_colour(raw)
        line = ANSI.sub("", raw).rstrip()
        if not line.strip():
            return
        if line.startswith(MODEL_MARKER):
            self.model = Path(line.removeprefix(MODEL_MARKER).strip())
            return
        self.progress.feed(line)
        if (match := SAVED.search(line)) and self.model is None:
            self.model = Path(match[1])
        if transient:
            return
        self.lines.append(line)
        if LOG_ERROR.match(line):
            self._error_logs.append(line)
        if line.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
        elif self._in_traceback and EXCEPTION_LINE.match(line):
            self._exception, self._in_traceback = line, False

    def reason(self, returncode: int | None = None) -> str:
        """Why the training failed, for a person: Rasa's own message when it gave one,
        else the exception that ended a traceback, else error logs or the last lines."""
        if self._errors:
            text = "\n".join(self._errors[:20])
        elif self._exception:
            text = self._exception
        elif self._error_logs:
            text = "\n".join(self._error_logs)
        else:
            tail = [line for line in self.lines if "Warning" not in line][-8:]
            text = "\n".join(tail) or "the training printed nothing"
        if returncode not in (None, 0, 1):
            text += f"\n(exit code {returncode})"
        return text

    def _track_colour(self, raw: str) -> None:
        position = 0
        for match in ANSI.finditer(raw):
            if self._in_red:
                self._red_lines[-1] += raw[position : match.start()]
            position = match.end()
            if match[0] == RED and not self._in_red:
                self._in_red, self._red_lines = True, [""]
            elif match[0] != RED and self._in_red:
                self._in_red, self._errors = False, _non_empty(self._red_lines)
        if self._in_red:
            self._red_lines[-1] += raw[position:]
            self._red_lines.append("")


def _non_empty(lines: Iterable[str]) -> list[str]:
    return [line.rstrip() for line in lines if line.strip()]


@dataclass
class TrainingJob:
    """One training: what it does now, how far it is, and how it ended."""

    id: str
    root: Path
    models_dir: Path
    status: Status = "queued"
    stage: str = "queued"
    percent: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    model: Path | None = None
    error: str | None = None
    up_to_date: bool = False  # the model for this data existed: nothing was trained
    activated: bool | None = None  # None: on_success not called (or not given)
    activation_error: str | None = None
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at or dt.datetime.now(dt.timezone.utc)
        return (end - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        def iso(at: dt.datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "id": self.id,
            "status": self.status,
            "stage": self.stage,
            "percent": self.percent,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_seconds": None if self.duration is None else round(self.duration, 1),
            "model": str(self.model) if self.model else None,
            "model_name": self.model.name if self.model else None,
            "error": self.error,
            "up_to_date": self.up_to_date,
            "activated": self.activated,
            "activation_error": self.activation_error,
            "log": list(self.log),
        }


class Trainer:
    """At most one background training at a time, in the running asyncio loop."""

    def __init__(
        self,
        project_root: Path = PROJECT_ROOT,
        models_dir: Path | None = None,
        *,
        on_success: Callable[[Path], Awaitable[None]] | None = None,
    ) -> None:
        self.project_root = project_root
        # The default is the one `kopru run` and `kopru train` use.
        self.models_dir = models_dir or Path(
            os.environ.get("KOPRU_MODELS_DIR") or project_root / "models"
        )
        self.on_success = on_success
        self._job: TrainingJob | None = None
        self._task: asyncio.Task[None] | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._stop = False  # cancel() was called for the running job

    def current(self) -> TrainingJob | None:
        """The job that is running (training, or activating its model), if any."""
        if self._task is not None and not self._task.done():
            return self._job
        return None

    def last(self) -> TrainingJob | None:
        """The latest job, running or finished."""
        return self._job

    def start(self, *, force: bool = False) -> TrainingJob:
        """Start training the project's current data. With a model for that data already
        in the models directory nothing is trained (unless `force`): the job has
        succeeded at once with `up_to_date` and that model, and `on_success` is not
        called (activating it is the caller's choice). Must run inside the loop."""
        loop = asyncio.get_running_loop()
        running = self.current()
        if running is not None:
            raise TrainingInProgress(
                f"A training is already running (started {running.started_at:%H:%M:%S}, "
                f"{running.stage}, {running.percent}%); wait for it to finish."
            )
        now = dt.datetime.now(dt.timezone.utc)
        job = TrainingJob(secrets.token_hex(6), self.project_root, self.models_dir)
        job.started_at = now
        try:
            existing = model_path(self.project_root, self.models_dir)
        except OSError as exc:
            raise KopruError(
                f"Cannot read the training data in {self.project_root}: {exc}"
            ) from exc
        if existing.is_file() and not force:
            job.status, job.stage, job.percent = "succeeded", "up to date", 100
            job.model, job.up_to_date, job.finished_at = existing, True, now
            job.log.append(f"The model for the current data exists: {existing.name}")
            self._job, self._task = job, None
            metrics().training_finished("up_to_date", None)
            return job
        snapshot = _snapshot(self.project_root)
        self._job, self._stop = job, False
        self._task = loop.create_task(self._run(job, snapshot, force))
        self._task.add_done_callback(lambda _task: _count_training(job))
        return job

    async def wait(self) -> TrainingJob | None:
        """Wait for the running job (and its activation) to end; return the latest job."""
        if self._task is not None:
            await asyncio.shield(self._task)
        return self._job

    async def cancel(self) -> None:
        """Stop the running training (e.g. when the app shuts down); it ends as failed."""
        task = self._task
        if task is None or task.done():
            return
        self._stop = True  # the process is killed as soon as it exists
        process = self._process
        if process is not None and process.returncode is None:
            _kill_group(process.pid)
        await asyncio.gather(task, return_exceptions=True)

    async def _run(self, job: TrainingJob, snapshot: Path, force: bool) -> None:
        follower = LogFollower(
            training_plan(snapshot / "config.yml"),
            log=job.log,
            rename=(str(snapshot), str(self.project_root)),
        )
        job.status, job.stage = "running", "starting"
        returncode: int | None = None
        target: Path | None = None  # the model's name for the snapshot's data
        try:
            target = model_path(snapshot, self.models_dir)
            returncode = await self._train(job, snapshot, force, follower)
        except asyncio.CancelledError:
            job.status, job.stage, job.error = "failed", "failed", "The training was cancelled."
            raise
        except Exception as exc:  # the job must end, whatever happened
            follower.feed(f"{RED}The training could not run: {exc!r}{RESET}")
        finally:
            self._process = None
            shutil.rmtree(snapshot, ignore_errors=True)
            job.finished_at = dt.datetime.now(dt.timezone.utc)
        model = follower.model
        if returncode != 0 or model is None or not model.is_file():
            if target is not None and returncode is not None and returncode != 0:
                _remove_partial(target, job.started_at)
            job.status, job.stage = "failed", "failed"
            if self._stop:
                job.error = "The training was cancelled."
            elif returncode is not None and returncode < 0:
                job.error = f"The training was stopped (signal {-returncode})."
            else:
                job.error = follower.reason(returncode)
            return
        follower.progress.finish()
        job.status, job.stage, job.percent, job.model = "succeeded", "done", 100, model
        if self.on_success is None:
            return
        job.stage = "activating the new model"
        try:
            await self.on_success(model)
        except Exception as exc:  # reported on the job, not raised
            job.activated, job.activation_error = False, str(exc) or type(exc).__name__
            job.stage = "trained; activating it failed"
        else:
            job.activated, job.stage = True, "done; the new model is active"

    async def _train(
        self, job: TrainingJob, snapshot: Path, force: bool, follower: LogFollower
    ) -> int:
        process = self._process = await asyncio.create_subprocess_exec(
            *_child_argv(snapshot, self.models_dir, force),
            cwd=PROJECT_ROOT,
            env=_env(self.project_root),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # the child and its `rasa train` are stopped together
        )
        assert process.stdout is not None
        if self._stop:
            _kill_group(process.pid)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # chunks split chars
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(process.stdout.read(65536), TICK_SECONDS)
                except asyncio.TimeoutError:
                    follower.progress.tick()
                else:
                    if not chunk:
                        break
                    follower.write(decoder.decode(chunk))
                job.stage, job.percent = follower.progress.stage, follower.progress.percent
            follower.write(decoder.decode(b"", final=True))
            follower.close()
            job.stage, job.percent = follower.progress.stage, follower.progress.percent
            return await process.wait()
        except asyncio.CancelledError:
            if process.returncode is None:
                _kill_group(process.pid)
            raise


def _count_training(job: TrainingJob) -> None:
    """kopru_training_runs_total and kopru_training_seconds (bot.observability)."""
    result = "cancelled" if job.error == "The training was cancelled." else job.status
    metrics().training_finished(result if job.done else "failed", job.duration)


def _snapshot(root: Path) -> Path:
    """A copy of what training reads, so that edits during the training change nothing."""
    target = Path(tempfile.mkdtemp(prefix="kopru-train-"))
    try:
        for name in ("config.yml", "domain.yml"):
            shutil.copy2(root / name, target / name)
        shutil.copytree(root / "data", target / "data")
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise KopruError(f"Cannot read the training data in {root}: {exc}") from exc
    return target


def _child_argv(snapshot: Path, models_dir: Path, force: bool) -> list[str]:
    argv = [sys.executable, "-m", "bot.authoring.trainer", str(snapshot), str(models_dir.resolve())]
    return [*argv, "--force"] if force else argv


def _env(root: Path) -> dict[str, str]:
    extra = {
        "PYTHONUNBUFFERED": "1",
        # bot.dialogue.policy must import from the snapshot's directory too
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    # Rasa caches trained components under the working directory: keep the project's.
    if not os.environ.get("RASA_CACHE_DIRECTORY"):
        extra["RASA_CACHE_DIRECTORY"] = str(root.resolve() / ".rasa" / "cache")
    return child_env(extra)


def _remove_partial(target: Path, since: dt.datetime | None) -> None:
    """Rasa writes the archive in place: one written by a training that then failed
    (killed while saving) is not a model, and would pass for one later."""
    with contextlib.suppress(OSError):
        if since is not None and target.stat().st_mtime >= since.timestamp():
            target.unlink()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)


def _child_main(argv: Sequence[str] | None = None) -> int:
    """The training process: `python -m bot.authoring.trainer ROOT MODELS_DIR [--force]`."""
    from bot.authoring.training import TrainingFailed, ensure_model

    parser = argparse.ArgumentParser(prog="python -m bot.authoring.trainer")
    parser.add_argument("root", type=Path)
    parser.add_argument("models_dir", type=Path)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    args.models_dir.mkdir(parents=True, exist_ok=True)
    if not _lock_is_free(args.models_dir / ".train.lock"):
        print("Waiting for another training to finish...", flush=True)
    try:
        path = ensure_model(args.root, args.models_dir, force=args.force)
    except TrainingFailed as exc:
        print(f"kopru: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"{MODEL_MARKER}{path}", flush=True)
    return 0


def _lock_is_free(lock_file: Path) -> bool:
    try:
        with file_lock(lock_file, blocking=False):
            return True
    except LockBusy:
        return False


if __name__ == "__main__":
    from bot.quiet import install as quiet_warnings

    quiet_warnings()  # before Rasa is imported: this log is shown on the Training page
    sys.exit(_child_main())
