"""kopru.yml: the shipped file loads, and broken files fail with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.settings import PROJECT_ROOT
from bot.shop.business import load_business_config, parse_business_config


def valid() -> dict[str, Any]:
    return {
        "payment_methods": {"en": ["Visa"], "pl": ["BLIK"]},
        "delivery": {"currency": "EUR", "countries": {"de": {"days": [2, 4], "cost": 6.9,
                                                             "free_over": 100}}},
        "troubleshooting_steps": ["utter_a", "utter_b"],
    }  # fmt: skip


def test_shipped_config_loads() -> None:
    config = load_business_config(PROJECT_ROOT / "kopru.yml")
    assert "DE" in config.delivery and "PL" in config.delivery
    assert config.payment_methods_for("pl")[-1] == "płatność przy odbiorze"
    assert config.payment_methods_for("xx") == config.payment_methods["en"]
    assert config.troubleshooting_steps[0] == "utter_tech_step_restart"


def test_codes_are_upper_case_and_money_is_formatted() -> None:
    config = parse_business_config(valid())
    assert config.delivery["DE"].days_min == 2
    assert config.money(6.9) == "6.90 EUR"
    assert config.money(6.9, "pl") == "6,90 EUR"
    assert config.money(100, "tr") == "100,00 EUR"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.pop("payment_methods"), "payment_methods"),
        (lambda c: c["payment_methods"].pop("en"), "'en'"),
        (lambda c: c["delivery"]["countries"].clear(), "at least one country"),
        (lambda c: c["delivery"]["countries"]["de"].update(days=[4, 2]), "ascending"),
        (lambda c: c["delivery"]["countries"]["de"].update(days=3), "days"),
        (lambda c: c["delivery"]["countries"]["de"].update(cost="cheap"), "numbers"),
        (lambda c: c.update(troubleshooting_steps=[]), "troubleshooting_steps"),
    ],
)
def test_invalid_config_is_refused_with_the_reason(mutate: Any, message: str) -> None:
    config = valid()
    mutate(config)
    with pytest.raises(ConfigError, match=message):
        parse_business_config(config)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_business_config(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("payment_methods: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_business_config(bad)
