"""The queue-wait estimate told to a waiting customer."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.desk.waiting import MIN_EXPECTED_WAIT, expected_wait, wait_minutes


@pytest.mark.parametrize(
    ("recent", "place", "default", "expected"),
    [
        ([], 1, 180.0, 180.0),  # no recent claims: the default per place
        ([], 3, 180.0, 540.0),
        ((), 2, 90.0, 180.0),
        ([100.0, 120.0, 140.0], 1, 180.0, 120.0),  # median, default unused
        ([100.0, 120.0, 140.0], 2, 180.0, 240.0),
        ([140.0, 100.0], 1, 180.0, 120.0),  # even count: mean of the middle two
        ([90.0, 100.0, 110.0, 3600.0], 1, 180.0, 105.0),  # one chat left waiting an hour
        ([90.0, 100.0, 110.0, 3600.0, 7200.0], 1, 180.0, 110.0),
        ([1.0, 2.0, 100.0, 110.0, 120.0], 1, 180.0, 100.0),  # instant claims do not drag down
        ([30.0, 40.0, 50.0], 1, 180.0, MIN_EXPECTED_WAIT),  # clamped to a minute
        ([30.0, 40.0, 50.0], 2, 180.0, 80.0),
        ([], 1, 10.0, MIN_EXPECTED_WAIT),
        ([], 1, 0.0, MIN_EXPECTED_WAIT),
        ([-5.0, float("nan"), float("inf"), 200.0], 1, 180.0, 200.0),  # broken rows ignored
        ([-5.0, float("nan")], 2, 180.0, 360.0),  # nothing usable: the default
    ],
)
def test_expected_wait(
    recent: Sequence[float], place: int, default: float, expected: float
) -> None:
    assert expected_wait(recent, place, default) == pytest.approx(expected)


@pytest.mark.parametrize("place", [0, -1])
def test_place_starts_at_one(place: int) -> None:
    with pytest.raises(ValueError, match="place"):
        expected_wait([100.0], place, 180.0)


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [
        (0.0, 1),
        (1.0, 1),
        (59.9, 1),
        (60.0, 1),
        (60.5, 2),
        (120.0, 2),
        (121.0, 3),
        (180.0, 3),
        (600.0, 10),
        (3599.0, 60),
        (-30.0, 1),
    ],
)
def test_wait_minutes_rounds_up_to_at_least_one(seconds: float, minutes: int) -> None:
    assert wait_minutes(seconds) == minutes


@pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
def test_wait_minutes_refuses_non_finite(seconds: float) -> None:
    with pytest.raises(ValueError):
        wait_minutes(seconds)
