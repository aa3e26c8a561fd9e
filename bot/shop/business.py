"""Business settings from kopru.yml: payment methods, delivery terms, troubleshooting steps,
the agents' desk hours."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.desk.hours import AgentDeskConfig, parse_agent_desk
from bot.errors import ConfigError
from bot.insights.survey import SurveyConfig, parse_survey_config
from bot.privacy.masking import PrivacyConfig, parse_privacy_config

__all__ = ["BusinessConfig", "DeliveryTerms", "load_business_config"]


@dataclass(frozen=True)
class DeliveryTerms:
    """How long delivery to one country takes and what it costs."""

    country: str
    days_min: int
    days_max: int
    cost: float
    free_over: float


@dataclass(frozen=True)
class BusinessConfig:
    payment_methods: dict[str, tuple[str, ...]]
    currency: str
    delivery: dict[str, DeliveryTerms]
    troubleshooting_steps: tuple[str, ...]
    # Optional in kopru.yml; the default is UTC, Monday-Friday 09:00-17:00.
    agent_desk: AgentDeskConfig = field(default_factory=lambda: parse_agent_desk(None))
    survey: SurveyConfig = field(default_factory=SurveyConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)

    def payment_methods_for(self, language: str) -> tuple[str, ...]:
        return self.payment_methods.get(language) or self.payment_methods["en"]

    def money(self, amount: float, language: str = "en") -> str:
        """6.90 EUR in English, 6,90 EUR in Turkish and Polish (decimal comma)."""
        text = f"{amount:.2f}"
        if language in ("tr", "pl"):
            text = text.replace(".", ",")
        return f"{text} {self.currency}"


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise ConfigError(f"{where}: missing '{key}'")
    return mapping[key]


def _terms(code: str, raw: Any) -> DeliveryTerms:
    where = f"delivery.countries.{code}"
    days = _require(raw, "days", where)
    if not (isinstance(days, list) and len(days) == 2 and all(isinstance(d, int) for d in days)):
        raise ConfigError(f"{where}.days must be [min, max] whole days")
    if days[0] > days[1] or days[0] < 0:
        raise ConfigError(f"{where}.days must be ascending and not negative")
    try:
        cost = float(_require(raw, "cost", where))
        free_over = float(_require(raw, "free_over", where))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cost and free_over must be numbers") from exc
    return DeliveryTerms(code, days[0], days[1], cost, free_over)


def parse_business_config(raw: Any) -> BusinessConfig:
    """Validate the parsed YAML; raise ConfigError naming the first problem."""
    methods_raw = _require(raw, "payment_methods", "kopru.yml")
    if not isinstance(methods_raw, dict) or "en" not in methods_raw:
        raise ConfigError("payment_methods needs at least an 'en' list")
    methods = {str(lang): tuple(str(m) for m in items) for lang, items in methods_raw.items()}
    delivery_raw = _require(raw, "delivery", "kopru.yml")
    countries_raw = _require(delivery_raw, "countries", "delivery")
    if not isinstance(countries_raw, dict) or not countries_raw:
        raise ConfigError("delivery.countries must list at least one country")
    delivery = {
        str(code).upper(): _terms(str(code).upper(), v) for code, v in countries_raw.items()
    }
    steps = _require(raw, "troubleshooting_steps", "kopru.yml")
    if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
        raise ConfigError("troubleshooting_steps must be a non-empty list of response names")
    return BusinessConfig(
        payment_methods=methods,
        currency=str(delivery_raw.get("currency", "EUR")),
        delivery=delivery,
        troubleshooting_steps=tuple(steps),
        agent_desk=parse_agent_desk(raw.get("agent_desk")),
        survey=parse_survey_config(raw.get("survey")),
        privacy=parse_privacy_config(raw.get("privacy")),
    )


def load_business_config(path: Path) -> BusinessConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse_business_config(raw)
