"""The dialogue policy for the turns Köprü takes over from Rasa's own policies.

* While a person has the conversation (the `handoff` slot mirrors the handoff state in
  the database, refreshed by `action_observe_turn` on every message) every customer
  message goes to `action_relay_to_agent`, which passes it to the agent, and nothing
  else: the bot stays silent.
* While the end-of-conversation survey waits for an answer (the `survey` slot), every
  customer message goes to `action_survey_answer`. `action_observe_turn` has already
  dropped the survey if the customer asked something new instead.

Its priority is above the RulePolicy's, so no rule, form or fallback speaks up. Messages
the bot triggers itself (`EXTERNAL_*` intents: an agent joined, the handoff ended) are
left to the rules.
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

__all__ = ["HANDOFF_SLOT", "RELAY_ACTION", "SURVEY_ACTION", "KopruPolicy", "next_action"]

HANDOFF_SLOT = "handoff"
SURVEY_SLOT = "survey"
RELAY_ACTION = "action_relay_to_agent"
SURVEY_ACTION = "action_survey_answer"
ACTIVE_VALUES = frozenset({"queued", "claimed"})
SURVEY_STEPS = frozenset({"nps", "reason", "csat"})
# Above the RulePolicy (6): on equal confidence the higher priority wins.
DEFAULT_PRIORITY = 7
LISTEN: str = ACTION_LISTEN_NAME


def next_action(
    handoff: str | None,
    previous_action: str | None,
    external: bool,
    survey: str | None = None,
) -> str | None:
    """The action this policy insists on, or None to let the other policies decide."""
    if previous_action in (RELAY_ACTION, SURVEY_ACTION):
        return LISTEN
    if previous_action != LISTEN or external:
        return None
    if handoff in ACTIVE_VALUES:
        return RELAY_ACTION
    if survey in SURVEY_STEPS:
        return SURVEY_ACTION
    return None


@DefaultV1Recipe.register(  # type: ignore[misc]
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class KopruPolicy(Policy):  # type: ignore[misc]
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
            _slot(tracker, HANDOFF_SLOT),
            tracker.latest_action_name,
            external,
            _slot(tracker, SURVEY_SLOT),
        )
        if action is not None:
            probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities)


def _slot(tracker: DialogueStateTracker, name: str) -> str | None:
    value = tracker.get_slot(name) if name in tracker.slots else None
    return str(value) if value is not None else None
