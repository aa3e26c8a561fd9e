"""Train the Rasa model when the data changed, and find the model that matches the data."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bot.errors import KopruError
from bot.storage.files import file_lock, replace_file

__all__ = ["TrainingFailed", "child_env", "data_fingerprint", "ensure_model", "model_path"]

MODEL_PREFIX = "kopru-"


class TrainingFailed(KopruError):
    """`rasa train` exited with an error."""


def _training_files(root: Path) -> list[Path]:
    files = [root / "config.yml", root / "domain.yml"]
    files += sorted(p for p in (root / "data").rglob("*") if p.suffix in (".yml", ".yaml"))
    return files


def component_fingerprint() -> str:
    """A hash of the code of Köprü's own Rasa components (the installed ones, whatever
    project folder is trained): a change to it changes what a model holds."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    components = sorted([*(package / "dialogue").glob("*.py"), *(package / "nlu").glob("*.py")])
    for path in components:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def data_fingerprint(root: Path) -> str:
    """A hash of everything training reads, so an unchanged project reuses its model."""
    from importlib.metadata import version

    digest = hashlib.sha256(f"rasa {version('rasa')}\n{component_fingerprint()}\n".encode())
    for path in _training_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path, models_dir: Path) -> Path:
    return models_dir / f"{MODEL_PREFIX}{data_fingerprint(root)}.tar.gz"


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for Rasa subprocesses: no telemetry calls, quiet TensorFlow."""
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    if extra:
        env.update(extra)
    return env


def ensure_model(root: Path, models_dir: Path, *, force: bool = False, quiet: bool = False) -> Path:
    """Return the model for the current data, training it first if it does not exist.

    Concurrent callers (test workers, two terminals) wait for one training.
    """
    target = model_path(root, models_dir)
    with file_lock(models_dir / ".train.lock"):
        if target.exists() and not force:
            return target
        # Rasa writes the archive in place: train under a temporary name and rename it
        # when complete, so an interrupted training never leaves a truncated model that
        # would later count as the model for this data.
        partial = target.with_name(f".partial-{target.name}")
        partial.unlink(missing_ok=True)
        command = [
            sys.executable, "-m", "bot.quiet", "rasa", "train",
            "--config", str(root / "config.yml"),
            "--domain", str(root / "domain.yml"),
            "--data", str(root / "data"),
            "--out", str(models_dir),
            "--fixed-model-name", partial.name.removesuffix(".tar.gz"),
        ]  # fmt: skip
        # Rasa's training cache knows a component by its name and configuration, not its
        # code: keep one cache per version of Köprü's components, or a changed component
        # would be restored from the cache as it was.
        base = os.environ.get("RASA_CACHE_DIRECTORY") or str(root / ".rasa" / "cache")
        cache = f"{base}-{component_fingerprint()}"
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command,
            cwd=root,
            env=child_env({"RASA_CACHE_DIRECTORY": str(cache)}),
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not partial.exists():
            partial.unlink(missing_ok=True)
            tail = (result.stdout or "")[-4000:] if quiet else ""
            raise TrainingFailed(f"rasa train failed (exit {result.returncode})\n{tail}")
        replace_file(partial, target)
        return target
