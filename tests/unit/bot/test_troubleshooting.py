"""The guided flow's next step."""

from __future__ import annotations

import pytest

from bot.shop.troubleshooting import Step, next_step

STEPS = ("utter_a", "utter_b", "utter_c")


@pytest.mark.parametrize(
    ("shown", "restart", "expected"),
    [
        (0, True, Step("utter_a", 1)),
        (2, True, Step("utter_a", 1)),
        (1, False, Step("utter_b", 2)),
        (2, False, Step("utter_c", 3)),
        (3, False, Step(None, 3)),
        (7, False, Step(None, 3)),
        (-1, False, Step("utter_a", 1)),
    ],
)
def test_next_step(shown: int, restart: bool, expected: Step) -> None:
    assert next_step(STEPS, shown, restart=restart) == expected
