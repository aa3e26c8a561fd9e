"""The dialogue policy that keeps the bot silent while a person has the conversation.

The `handoff` slot mirrors the handoff state in the database (`action_observe_turn`
refreshes it on every customer message). While it is `queued` or `claimed`, every
customer message is answered by `action_relay_to_agent`, which passes it to the agent,
and nothing else; this policy's priority is above the RulePolicy's, so no rule, form or
fallback speaks up. Messages the bot triggers itself (`EXTERNAL_*` intents: an agent
joined, the handoff ended) are left to the rules.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME, IS_EXTERNAL
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

__all__ = ["HANDOFF_SLOT", "RELAY_ACTION", "HandoffPolicy", "next_action"]

HANDOFF_SLOT = "handoff"
RELAY_ACTION = "action_relay_to_agent"
ACTIVE_VALUES = frozenset({"queued", "claimed"})
# Above the RulePolicy (6): on equal confidence the higher priority wins.
DEFAULT_PRIORITY = 7
LISTEN: str = ACTION_LISTEN_NAME


def next_action(handoff: str | None, previous_action: str | None, external: bool) -> str | None:
    """The action this policy insists on, or None to let the other policies decide."""
    if handoff not in ACTIVE_VALUES:
        return None
    if previous_action == LISTEN and not external:
        return RELAY_ACTION
    if previous_action == RELAY_ACTION:
        return LISTEN
    return None


@DefaultV1Recipe.register(  # type: ignore[misc]
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class HandoffPolicy(Policy):  # type: ignore[misc]
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": DEFAULT_PRIORITY}

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        latest = tracker.latest_message
        external = bool(
            isinstance(latest, UserUttered) and (latest.metadata or {}).get(IS_EXTERNAL)
        )
        action = next_action(
            tracker.get_slot(HANDOFF_SLOT) if HANDOFF_SLOT in tracker.slots else None,
            tracker.latest_action_name,
            external,
        )
        if action is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)
