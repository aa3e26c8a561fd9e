"""Background training: progress from Rasa's log, failure reasons, one job at a time."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

import bot.authoring.trainer
from bot.authoring.trainer import (
    COMPONENT_SECONDS,
    MODEL_MARKER,
    LogFollower,
    Trainer,
    TrainingInProgress,
    TrainingProgress,
    training_plan,
)
from bot.authoring.training import model_path
from bot.settings import PROJECT_ROOT

# The components `training_plan` reads from the shipped config.yml, in its order
# (WhitespaceTokenizer and FallbackClassifier are run, not trained).
CALIBRATED_PLAN = [
    "RegexEntityExtractor",
    "KopruIntentClassifier",
    "KopruResponseSelector",
    "MemoizationPolicy",
    "RulePolicy",
    "KopruPolicy",
]
# The order Rasa trained them in, in the recorded training below: the policies first.
RECORDED_ORDER = [
    "MemoizationPolicy",
    "RulePolicy",
    "KopruPolicy",
    "RegexEntityExtractor",
    "KopruIntentClassifier",
    "KopruResponseSelector",
]

# Lines of a real `rasa train` of the shipped config and data on an empty cache (stdout
# and stderr, colours and progress-bar redraws as they came), keeping the ones progress
# depends on and a few of each kind of warning; the model's path is normalised.
RECORDED = (
    "/work/main/.venv/lib/python3.10/site-packages/rasa/shared/utils/validation.py:134: "
    "DeprecationWarning: pkg_resources is deprecated as an API. See "
    "https://setuptools.pypa.io/en/latest/pkg_resources.html\n"
    "  import pkg_resources\n"
    "2026-12-07 03:04:20 INFO     rasa.cli.train  - Started validating domain and training "
    "data...\n"
    "\x1b[93m/work/main/.venv/lib/python3.10/site-packages/rasa/shared/utils/io.py:100: "
    "UserWarning: The following duplicated intents have been found across multiple domain files: "
    "faq\n"
    "  More info at https://rasa.com/docs/rasa/domain\n"
    "\x1b[0m2026-12-07 03:04:27 INFO     rasa.validator  - Validating intents...\n"
    "\x1b[93m/work/main/.venv/lib/python3.10/site-packages/rasa/shared/utils/io.py:100: "
    "UserWarning: The intent 'EXTERNAL_agent_joined' is listed in the domain file, but is not "
    "found in the NLU training data.\n"
    "\x1b[0m2026-12-07 03:04:27 INFO     rasa.validator  - Validating uniqueness of intents and "
    "stories...\n"
    "2026-12-07 03:04:27 INFO     rasa.validator  - Validating utterances...\n"
    "\x1b[93m/work/main/.venv/lib/python3.10/site-packages/rasa/shared/utils/io.py:100: "
    "UserWarning: The utterance 'utter_handoff_resolved' is not used in any story or rule.\n"
    "\x1b[0m2026-12-07 03:04:27 INFO     rasa.validator  - Story structure validation...\n"
    "2026-12-07 03:04:27 INFO     rasa.core.training.story_conflict  - Considering all preceding "
    "turns for conflict analysis.\n"
    "2026-12-07 03:04:27 INFO     rasa.validator  - No story structure conflicts found.\n"
    "\x1b[93m/work/main/.venv/lib/python3.10/site-packages/rasa/shared/utils/io.py:100: "
    "UserWarning: You have defined training data with examples for training a response selector, "
    "but your NLU configuration does not include a response selector component. To train a model "
    "on your response selector data, add a 'ResponseSelector' to your configuration.\n"
    "  More info at https://rasa.com/docs/rasa/components\n"
    "\x1b[0m\x1b[93m/work/main/.venv/lib/python3.10/site-packages/rasa/shared/utils/io.py:100: "
    "UserWarning: You have defined training data consisting of entity examples, but your NLU "
    "configuration does not include an entity extractor trained on your training data. To "
    "extract non-pretrained entities, add one of MitieEntityExtractor, CRFEntityExtractor, "
    "DIETClassifier to your configuration.\n"
    "  More info at https://rasa.com/docs/rasa/components\n"
    "\x1b[0m"
    "\rProcessed rules:   0%|          | 0/38 [00:00<?, ?it/s]"
    "\rProcessed rules:   0%|          | 0/38 [00:00<?, ?it/s, # trackers=1]"
    "\rProcessed rules: 100%|██████████| 38/38 [00:00<00:00, 4339.45it/s, # trackers=1]\n"
    "2026-12-07 03:04:32 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'MemoizationPolicy'.\n"
    "\rProcessed trackers: 0it [00:00, ?it/s]"
    "\rProcessed trackers: 0it [00:00, ?it/s]\n"
    "2026-12-07 03:04:32 INFO     rasa.engine.training.hooks  - Finished training component "
    "'MemoizationPolicy'.\n"
    "2026-12-07 03:04:32 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'RulePolicy'.\n"
    "\rProcessed trackers:   0%|          | 0/38 [00:00<?, ?it/s]"
    "\rProcessed trackers:   0%|          | 0/38 [00:00<?, ?it/s, # action=1]"
    "\rProcessed trackers: 100%|██████████| 38/38 [00:00<00:00, 2465.86it/s, # action=86]\n"
    "2026-12-07 03:04:32 INFO     rasa.engine.training.hooks  - Finished training component "
    "'RulePolicy'.\n"
    "2026-12-07 03:04:32 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'KopruPolicy'.\n"
    "2026-12-07 03:04:32 INFO     rasa.engine.training.hooks  - Finished training component "
    "'KopruPolicy'.\n"
    "2026-12-07 03:04:33 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'RegexEntityExtractor'.\n"
    "2026-12-07 03:04:33 INFO     rasa.engine.training.hooks  - Finished training component "
    "'RegexEntityExtractor'.\n"
    "2026-12-07 03:04:33 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'KopruIntentClassifier'.\n"
    "2026-12-07 03:05:00 INFO     rasa.engine.training.hooks  - Finished training component "
    "'KopruIntentClassifier'.\n"
    "2026-12-07 03:05:00 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'KopruResponseSelector'.\n"
    "2026-12-07 03:05:01 INFO     rasa.engine.training.hooks  - Finished training component "
    "'KopruResponseSelector'.\n"
    "\x1b[92mYour Rasa model is trained and saved at "
    "'/tmp/calib/models/kopru-calib.tar.gz'.\x1b[0m\n"
)
RECORDED_MODEL = "/tmp/calib/models/kopru-calib.tar.gz"
# A retraining with Rasa's cache: unchanged components are restored, not trained.
RESTORED = (
    "2026-11-23 14:36:34 INFO     rasa.engine.training.hooks  - Restored component "
    "'MemoizationPolicy' from cache.\n"
    "2026-11-23 14:36:34 INFO     rasa.engine.training.hooks  - Restored component "
    "'RulePolicy' from cache.\n"
)
# The ResponseSelector's epochs bar in a training of Köprü's former config.yml (no longer
# configured; DIETClassifier and TEDPolicy draw the same bar).
EPOCHS = (
    "2026-11-23 14:34:56 INFO     rasa.engine.training.hooks  - Starting to train component "
    "'ResponseSelector'.\n"
    "\rEpochs:   0%|          | 0/25 [00:00<?, ?it/s]"
    "\rEpochs:   4%|▍         | 1/25 [00:04<01:51,  4.66s/it]"
    "\rEpochs:   4%|▍         | 1/25 [00:04<01:51,  4.66s/it, t_loss=5.08, r_acc=0.157]"
    "\rEpochs:  48%|████▊     | 12/25 [00:05<00:05,  2.41it/s, t_loss=3.12, r_acc=0.912]"
    "\rEpochs:  96%|█████████▌| 24/25 [00:07<00:00,  9.17it/s, t_loss=2, r_acc=1]   "
    "\rEpochs: 100%|██████████| 25/25 [00:07<00:00,  3.28it/s, t_loss=2.3, r_acc=1]\n"
    "2026-11-23 14:35:07 INFO     rasa.engine.training.hooks  - Finished training component "
    "'ResponseSelector'.\n"
)
# What Rasa printed for a domain.yml with a YAML error (print_error: red, then reset).
YAML_ERROR = (
    "2026-11-23 14:36:48 INFO     rasa.cli.train  - Started validating domain and training "
    "data...\n"
    "\x1b[91mYamlSyntaxException: Failed to read '/tmp/kopru-train-x1/domain.yml'. mapping "
    "values are not allowed here\n"
    '  in "/tmp/kopru-train-x1/domain.yml", line 1398, column 9:\n'
    "       - bad: [\n"
    "            ^ (line: 1398)\n"
    "You can use https://yamlchecker.com/ to validate the YAML syntax of your file.\x1b[0m\n"
    "kopru: rasa train failed (exit 1)\n"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def recorded_components(text: str) -> list[str]:
    import re

    return re.findall(r"Starting to train component '(\w+)'", text)


def follow(
    text: str, chunk: int, clock: FakeClock | None = None, plan: list[str] = CALIBRATED_PLAN
) -> tuple[LogFollower, list[tuple[str, int]]]:
    """Feed `text` in chunks of `chunk` characters; return the follower and the
    (stage, percent) seen after each chunk."""
    follower = LogFollower(plan)
    if clock is not None:
        follower.progress = TrainingProgress(plan, clock=clock)
    seen = []
    for start in range(0, len(text), chunk):
        follower.write(text[start : start + chunk])
        seen.append((follower.progress.stage, follower.progress.percent))
    follower.close()
    return follower, seen


def test_the_plan_from_config_yml_is_what_rasa_logged() -> None:
    plan = training_plan(PROJECT_ROOT / "config.yml")
    assert plan == CALIBRATED_PLAN
    assert recorded_components(RECORDED) == RECORDED_ORDER
    # Rasa trains them in an order of its own: the same components, not the same order.
    assert Counter(RECORDED_ORDER) == Counter(plan)
    assert set(plan) <= COMPONENT_SECONDS.keys(), "every configured component is calibrated"


def test_progress_follows_the_recorded_training() -> None:
    clock = FakeClock()
    follower, seen = follow(RECORDED, chunk=1, clock=clock)
    percents = [percent for _stage, percent in seen]
    assert percents == sorted(percents), "the percentage never goes back"
    assert percents[0] == 0 and 95 <= percents[-1] <= 99  # 100 once the process exited well
    stages = list(dict.fromkeys(stage for stage, _percent in seen))
    assert stages == [
        "starting",
        "validating the data",
        "preparing the training",
        *(f"training {name}" for name in RECORDED_ORDER),
        "saving the model",
    ]
    assert follower.progress.remaining == []
    assert follower.model == Path(RECORDED_MODEL)
    follower.progress.finish()
    assert (follower.progress.stage, follower.progress.percent) == ("done", 100)


def percent_after(marker: str, text: str = RECORDED) -> int:
    """The percentage once `text` up to the end of `marker`'s line was read (no time
    passing within a step)."""
    end = text.index("\n", text.index(marker)) + 1
    follower, _seen = follow(text[:end], 4096, clock=FakeClock())
    return follower.progress.percent


def test_percent_milestones_follow_the_calibrated_seconds() -> None:
    # Calibrated: validation ends at ~18 %, training starts at ~30 %; the policies that
    # Rasa trains first take a fraction of a second, then the intent classifier (the
    # longest step, ~27 s) takes the percentage to ~94 %.
    assert 15 <= percent_after("Validating intents") <= 21
    assert 25 <= percent_after("Starting to train component 'MemoizationPolicy'") <= 33
    # KopruPolicy is the last component of config.yml but trained first: no jump.
    assert percent_after("Finished training component 'KopruPolicy'") <= 33
    assert 88 <= percent_after("Finished training component 'KopruIntentClassifier'") <= 96
    assert 90 <= percent_after("Finished training component 'KopruResponseSelector'") <= 96
    assert percent_after("trained and saved") == 99


def test_the_order_rasa_trains_in_does_not_matter() -> None:
    head = RECORDED[: RECORDED.index("Starting to train component")]
    head = head[: head.rindex("\n") + 1]
    hooks = "INFO rasa.engine.training.hooks - "
    ends = []
    for order in (RECORDED_ORDER, CALIBRATED_PLAN, CALIBRATED_PLAN[::-1]):
        progress = TrainingProgress(CALIBRATED_PLAN, clock=FakeClock())
        for line in head.splitlines():
            progress.feed(line)
        percents = []
        for name in order:
            progress.feed(f"{hooks}Starting to train component '{name}'.")
            assert progress.stage == f"training {name}"
            progress.feed(f"{hooks}Finished training component '{name}'.")
            percents.append(progress.percent)
        assert percents == sorted(percents)
        # A component done counts its own seconds, wherever it comes: the quick one
        # trained first moves the percentage a little, the intent classifier a lot.
        assert percents[0] <= 33 and percents[order.index("KopruIntentClassifier")] >= 88
        assert progress.remaining == [] and progress.stage == "saving the model"
        ends.append(progress.percent)
    assert len(set(ends)) == 1 and 90 <= ends[0] <= 96


def test_an_epochs_bar_moves_its_step() -> None:
    follower = LogFollower(["ResponseSelector"])
    follower.progress = TrainingProgress(["ResponseSelector"], clock=FakeClock())
    percents = []
    for part in EPOCHS.split("\r"):
        follower.write(part + "\r")
        percents.append(follower.progress.percent)
    follower.close()
    assert percents == sorted(percents) and percents[2] < percents[4] < percents[5]
    assert [line for line in follower.lines if line.startswith("Epochs:")] == [
        "Epochs: 100%|██████████| 25/25 [00:07<00:00,  3.28it/s, t_loss=2.3, r_acc=1]"
    ]


def test_the_log_keeps_lines_not_colours_or_progress_bar_redraws() -> None:
    follower, _seen = follow(RECORDED, chunk=97)
    log = list(follower.lines)
    assert not any("\x1b" in line or "\r" in line for line in log)
    bars = [line for line in log if line.startswith("Processed")]
    assert bars == [
        "Processed rules: 100%|██████████| 38/38 [00:00<00:00, 4339.45it/s, # trackers=1]",
        "Processed trackers: 0it [00:00, ?it/s]",
        "Processed trackers: 100%|██████████| 38/38 [00:00<00:00, 2465.86it/s, # action=86]",
    ]
    assert (
        log[-1] == "Your Rasa model is trained and saved at '/tmp/calib/models/kopru-calib.tar.gz'."
    )
    whole, _seen = follow(RECORDED, chunk=len(RECORDED))
    assert list(whole.lines) == log, "the chunking does not matter"


def test_the_log_keeps_the_last_lines_only() -> None:
    follower = LogFollower(CALIBRATED_PLAN)
    follower.write("".join(f"line {n}\n" for n in range(1200)))
    assert len(follower.lines) == 500
    assert follower.lines[-1] == "line 1199"


def test_long_silent_steps_move_with_the_clock_but_not_past_them() -> None:
    clock = FakeClock()
    progress = TrainingProgress(CALIBRATED_PLAN, clock=clock)
    head = RECORDED[: RECORDED.index("Finished training component 'KopruIntentClassifier'")]
    for line in head.splitlines():
        progress.feed(line)
    at_start = progress.percent
    clock.now += 10
    progress.tick()
    after_10s = progress.percent
    clock.now += 1000
    progress.tick()
    stuck = progress.percent
    assert at_start < after_10s < stuck
    progress.feed("INFO rasa.engine.training.hooks - Finished training component "
                  "'KopruIntentClassifier'.")  # fmt: skip
    assert progress.percent > stuck
    clock.now -= 500  # a clock going back does not move the percentage back
    progress.tick()
    assert progress.percent > stuck


def test_components_restored_from_the_cache_count_as_done() -> None:
    head = RECORDED[: RECORDED.index("Starting to train component 'MemoizationPolicy'")]
    head = head[: head.rindex("\n") + 1]
    before, _seen = follow(head, 4096)
    after, _seen = follow(head + RESTORED, 4096)
    assert after.progress.percent > before.progress.percent
    assert sorted(after.progress.remaining) == sorted(
        ["RegexEntityExtractor", "KopruIntentClassifier", "KopruResponseSelector", "KopruPolicy"]
    )


def test_the_reason_of_a_failure_is_rasas_error_message() -> None:
    follower = LogFollower(CALIBRATED_PLAN, rename=("/tmp/kopru-train-x1", "/srv/kopru"))
    follower.write(YAML_ERROR)
    follower.close()
    reason = follower.reason(1)
    assert reason.startswith(
        "YamlSyntaxException: Failed to read '/srv/kopru/domain.yml'. mapping values are not "
        "allowed here"
    )
    assert "line 1398, column 9" in reason
    assert "kopru: rasa train failed" not in reason
    assert "/tmp/kopru-train" not in "\n".join(follower.lines)


def test_the_reason_of_a_crash_is_the_exception() -> None:
    follower = LogFollower(CALIBRATED_PLAN)
    follower.write(
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "    train()\n"
        "MemoryError: Unable to allocate 3.2 GiB\n"
        "kopru: rasa train failed (exit 1)\n"
    )
    assert follower.reason(1) == "MemoryError: Unable to allocate 3.2 GiB"


def test_without_an_error_message_the_reason_is_the_last_lines() -> None:
    follower = LogFollower(CALIBRATED_PLAN)
    follower.write("UserWarning: noise\nsomething odd happened\n")
    assert follower.reason(-9) == "something odd happened\n(exit code -9)"
    assert LogFollower(CALIBRATED_PLAN).reason(1) == "the training printed nothing"


# --- the Trainer with real processes ---------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's training files; the real ones are never touched."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("config.yml", "domain.yml", "kopru.yml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    return root


def files(directory: Path) -> list[str]:
    return os.listdir(directory)


@pytest.fixture
def broken_project(project: Path) -> Path:
    domain = project / "domain.yml"
    domain.write_text(domain.read_text() + "\nintents:\n  - greet\n   - bad: [\n")
    return project


@pytest.fixture
def snapshots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the trainer's snapshots of the training data go (to check they are removed)."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


async def test_a_failed_training_says_why_and_activates_nothing(
    broken_project: Path, tmp_path: Path, snapshots: Path
) -> None:
    activated: list[Path] = []

    async def on_success(path: Path) -> None:
        activated.append(path)

    models = tmp_path / "models"
    trainer = Trainer(broken_project, models, on_success=on_success)
    job = trainer.start()
    assert not job.done and trainer.current() is job
    await asyncio.wait_for(trainer.wait(), 120)
    assert job.status == "failed", job.to_dict()
    assert job.error is not None and job.error.startswith("YamlSyntaxException: Failed to read")
    assert f"'{broken_project / 'domain.yml'}'" in job.error  # the project's file, not a copy
    assert "mapping values are not allowed here" in job.error
    assert job.model is None and activated == [] and job.activated is None
    assert not [name for name in files(models) if name.endswith(".tar.gz")]
    assert trainer.current() is None and trainer.last() is job
    assert job.finished_at is not None and job.started_at is not None
    assert not files(snapshots), "the snapshot of the data was removed"
    as_dict = json.loads(json.dumps(job.to_dict()))
    assert as_dict["status"] == "failed" and as_dict["log"][-1].startswith("kopru: rasa train")


async def test_one_training_at_a_time(broken_project: Path, tmp_path: Path) -> None:
    trainer = Trainer(broken_project, tmp_path / "models")
    job = trainer.start()
    with pytest.raises(TrainingInProgress, match="already running"):
        trainer.start()
    await trainer.cancel()
    assert job.status == "failed" and job.error is not None
    assert trainer.current() is None and trainer.last() is job
    # once it has ended, the next one may start
    again = trainer.start()
    assert again is not job and trainer.current() is again
    await trainer.cancel()


async def test_data_with_a_model_is_up_to_date(project: Path, tmp_path: Path, model: Path) -> None:
    calls: list[Path] = []

    async def on_success(path: Path) -> None:
        calls.append(path)

    models = tmp_path / "models"
    models.mkdir()
    existing = model_path(project, models)
    shutil.copy(model, existing)
    trainer = Trainer(project, models, on_success=on_success)
    job = trainer.start()
    assert (job.status, job.up_to_date, job.model, job.percent) == (
        "succeeded", True, existing, 100,
    )  # fmt: skip
    assert job.stage == "up to date" and trainer.current() is None and trainer.last() is job
    assert calls == [], "activating an existing model is the caller's choice"
    assert job.to_dict()["model_name"] == existing.name


def _fake_child(
    monkeypatch: pytest.MonkeyPatch, output: str, exit_code: int, writes: Path | None = None
) -> None:
    """Replace `python -m bot.authoring.trainer` by a process printing `output` (and writing the
    file `writes`, as `rasa train` killed while saving would)."""
    write = f"open({str(writes)!r}, 'wb').write(b'half a model'); " if writes else ""
    script = (
        f"import sys; {write}sys.stdout.write({output!r}); sys.stdout.flush(); "
        f"sys.exit({exit_code})"
    )
    monkeypatch.setattr(
        bot.authoring.trainer, "_child_argv", lambda *_args: [sys.executable, "-c", script]
    )


async def test_a_successful_training_calls_on_success(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained = tmp_path / "models" / "kopru-0123456789abcdef.tar.gz"
    trained.parent.mkdir()
    trained.write_bytes(b"model")
    _fake_child(monkeypatch, RECORDED + f"{MODEL_MARKER}{trained}\n", 0)
    activated: list[Path] = []
    states: list[tuple[str, int]] = []

    async def on_success(path: Path) -> None:
        states.append((job.status, job.percent))
        activated.append(path)

    trainer = Trainer(project, tmp_path / "models", on_success=on_success)
    job = trainer.start()
    await asyncio.wait_for(trainer.wait(), 60)
    assert (job.status, job.percent, job.model, job.error) == ("succeeded", 100, trained, None)
    assert activated == [trained] and states == [("succeeded", 100)]
    assert job.activated is True and job.stage == "done; the new model is active"


async def test_a_failed_activation_is_reported_on_the_job(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained = tmp_path / "kopru-0123456789abcdef.tar.gz"
    trained.write_bytes(b"model")
    _fake_child(monkeypatch, f"{MODEL_MARKER}{trained}\n", 0)

    async def on_success(path: Path) -> None:
        raise RuntimeError("the Rasa server is down")

    trainer = Trainer(project, tmp_path, on_success=on_success)
    job = trainer.start()
    await asyncio.wait_for(trainer.wait(), 60)
    assert (job.status, job.activated) == ("succeeded", False)
    assert job.activation_error == "the Rasa server is down"


async def test_exit_zero_without_a_model_is_a_failure(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_child(monkeypatch, "nothing to see\n", 0)
    trainer = Trainer(project, tmp_path)
    job = trainer.start()
    await asyncio.wait_for(trainer.wait(), 60)
    assert job.status == "failed" and job.error == "nothing to see"


async def test_characters_split_between_reads_survive(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_child(monkeypatch, "█" * 30_000 + "\n", 3)  # 90 000 bytes: read in pieces
    trainer = Trainer(project, tmp_path)
    job = trainer.start()
    await asyncio.wait_for(trainer.wait(), 60)
    assert job.status == "failed" and job.log[-1] == "█" * 30_000
    assert job.error == "█" * 30_000 + "\n(exit code 3)"


def test_an_unreadable_config_has_no_plan(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text("pipeline: [\n")
    assert training_plan(tmp_path / "config.yml") == []
    assert training_plan(tmp_path / "missing.yml") == []


def test_the_models_directory_is_the_one_kopru_run_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KOPRU_MODELS_DIR", raising=False)
    assert Trainer(tmp_path).models_dir == tmp_path / "models"
    monkeypatch.setenv("KOPRU_MODELS_DIR", str(tmp_path / "elsewhere"))
    assert Trainer(tmp_path).models_dir == tmp_path / "elsewhere"
    assert Trainer(tmp_path, tmp_path / "given").models_dir == tmp_path / "given"


async def test_an_archive_left_by_a_failed_training_is_removed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    target = model_path(project, models)
    _fake_child(monkeypatch, "Killed\n", 1, writes=target)
    trainer = Trainer(project, models)
    job = trainer.start(force=True)
    await asyncio.wait_for(trainer.wait(), 60)
    assert job.status == "failed" and target.name not in files(models)


async def test_a_failed_forced_training_keeps_the_earlier_model(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    target = model_path(project, models)
    target.write_bytes(b"the earlier model")
    os.utime(target, (1_700_000_000, 1_700_000_000))
    _fake_child(monkeypatch, "Killed\n", 1)
    trainer = Trainer(project, models)
    job = trainer.start(force=True)
    await asyncio.wait_for(trainer.wait(), 60)
    assert job.status == "failed" and target.name in files(models)
