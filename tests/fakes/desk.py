"""An in-memory agent desk for unit tests of the handoff rules (the Slack desk itself is
tested against the fake Slack Web API)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.desk.handoff import Handoff
from bot.desk.service import DeskError
from bot.storage.store import Conversation


@dataclass
class RecordingDesk:
    """Implements bot.desk.service.AgentDesk; `down` makes every call fail as Slack down would."""

    down: bool = False
    cards: dict[str, tuple[Handoff, int | None]] = field(default_factory=dict)
    shown: list[tuple[str, str]] = field(default_factory=list)  # (reference, state)
    relayed: list[tuple[str, str]] = field(default_factory=list)  # (reference, text)
    notes: list[tuple[str, str]] = field(default_factory=list)
    earlier: list[Sequence[Conversation]] = field(default_factory=list)

    def _check(self) -> None:
        if self.down:
            raise DeskError("the desk is down")

    async def show(
        self, handoff: Handoff, *, earlier: Sequence[Conversation], place: int | None
    ) -> Handoff:
        self._check()
        if not handoff.card_ts:
            handoff = dataclasses.replace(
                handoff, card_channel="CAGENTS", card_ts=f"{1000 + len(self.cards)}.000100"
            )
        self.cards[handoff.reference] = (handoff, place)
        self.shown.append((handoff.reference, handoff.state.value))
        self.earlier.append(earlier)
        return handoff

    async def relay(self, handoff: Handoff, text: str) -> None:
        self._check()
        self.relayed.append((handoff.reference, text))

    async def note(self, handoff: Handoff, text: str) -> None:
        self._check()
        self.notes.append((handoff.reference, text))
