"""Runtime settings of Köprü, read from the environment (12-factor style)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import ConfigError

__all__ = ["PROJECT_ROOT", "Settings"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything Köprü's processes need to know about their surroundings."""

    database_url: str
    orders_url: str
    orders_timeout: float
    business_config: Path
    var_dir: Path = PROJECT_ROOT / "var"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        var_dir = Path(env.get("KOPRU_VAR_DIR") or PROJECT_ROOT / "var")
        return cls(
            database_url=env.get("KOPRU_DATABASE_URL") or f"sqlite:///{var_dir / 'kopru.db'}",
            orders_url=(env.get("KOPRU_ORDERS_URL") or "http://127.0.0.1:5056").rstrip("/"),
            orders_timeout=_float(env, "KOPRU_ORDERS_TIMEOUT", 5.0),
            business_config=Path(env.get("KOPRU_CONFIG") or PROJECT_ROOT / "kopru.yml"),
            var_dir=var_dir,
        )
