"""Köprü's response selector for Rasa's retrieval intents (faq/opening_hours, ...).

It fills `response_selector` in the parse exactly as Rasa's ResponseSelector does, so
Rasa's own `utter_faq` action answers from it, but with a calibrated linear SVM over the
same TF-IDF n-grams as the intent classifier instead of a TensorFlow model: it trains in
a second, parses in well under a millisecond, and it only runs for messages whose
intent is the retrieval intent (Rasa's selector runs for every message).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.linear import CalibratedLinear
from bot.nlu.ngrams import NgramFeatures

__all__ = ["KopruResponseSelector"]

logger = logging.getLogger(__name__)

PROPERTY = "response_selector"
MODEL = "response_keys"
NGRAMS_FILE = "ngrams.json"
RESPONSES_FILE = "responses.json"


def _template(intent_response_key: str) -> str:
    """faq/opening_hours -> utter_faq/opening_hours (Rasa's naming)."""
    return f"utter_{intent_response_key}"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class KopruResponseSelector(GraphComponent, IntentClassifier):  # type: ignore[misc]
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "retrieval_intent": "faq",
            "C": 0.5,
            "ranking_length": 10,
            "calibration_folds": 3,
            "random_seed": 42,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        ngrams: NgramFeatures | None = None,
        model: CalibratedLinear | None = None,
        responses: dict[str, list[dict[str, Any]]] | None = None,
        retrieval_intents: list[str] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self.retrieval_intent = str(self.config["retrieval_intent"])
        self._model_storage = model_storage
        self._resource = resource
        self.ngrams = ngrams
        self.model = model
        self.responses = responses or {}
        self.retrieval_intents = retrieval_intents or []

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KopruResponseSelector:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            e
            for e in training_data.intent_examples
            if e.get(INTENT) == self.retrieval_intent and e.get(INTENT_RESPONSE_KEY) and e.get(TEXT)
        ]
        if not examples:
            logger.debug("KopruResponseSelector: no examples of %s", self.retrieval_intent)
            return self._resource
        texts = [str(e.get(TEXT)) for e in examples]
        keys = [str(e.get(INTENT_RESPONSE_KEY)) for e in examples]
        self.ngrams = NgramFeatures.fit(texts)
        self.model = CalibratedLinear.fit(
            self.ngrams.transform(texts),
            keys,
            c=float(self.config["C"]),
            folds=int(self.config["calibration_folds"]),
            seed=int(self.config["random_seed"]),
        )
        self.responses = {
            name: list(variants)
            for name, variants in training_data.responses.items()
            if name in {_template(key) for key in keys}
        }
        self.retrieval_intents = sorted(training_data.retrieval_intents)
        with self._model_storage.write_to(self._resource) as directory:
            path = Path(directory)
            self.ngrams.save(path / NGRAMS_FILE)
            self.model.save(path, MODEL)
            (path / RESPONSES_FILE).write_text(
                json.dumps(
                    {"responses": self.responses, "retrieval_intents": self.retrieval_intents}
                ),
                encoding="utf-8",
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> KopruResponseSelector:
        try:
            with model_storage.read_from(resource) as directory:
                path = Path(directory)
                ngrams = NgramFeatures.load(path / NGRAMS_FILE)
                model = CalibratedLinear.load(path, MODEL)
                saved = json.loads((path / RESPONSES_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            logger.debug("KopruResponseSelector: nothing trained in %s", resource.name)
            return cls(config, model_storage, resource)
        return cls(
            config,
            model_storage,
            resource,
            ngrams,
            model,
            saved["responses"],
            saved["retrieval_intents"],
        )

    def process(self, messages: list[Message]) -> list[Message]:
        if self.ngrams is None or self.model is None:
            return messages
        chosen = [m for m in messages if (m.get(INTENT) or {}).get("name") == self.retrieval_intent]
        if not chosen:
            return messages
        rows = self.model.probabilities(
            self.ngrams.transform([str(m.get(TEXT) or "") for m in chosen])
        )
        length = int(self.config["ranking_length"])
        for message, row in zip(chosen, rows, strict=True):
            ranking = [
                {"id": k, "confidence": p, INTENT_RESPONSE_KEY: key}
                for k, key, p in self.model.ranking(row, length)
            ]
            best = ranking[0]
            key = str(best[INTENT_RESPONSE_KEY])
            properties = dict(message.get(PROPERTY) or {})
            properties["all_retrieval_intents"] = self.retrieval_intents
            properties[self.retrieval_intent] = {
                "response": {
                    "responses": self.responses.get(_template(key)) or [{TEXT: key}],
                    "confidence": best["confidence"],
                    INTENT_RESPONSE_KEY: key,
                    "utter_action": _template(key),
                },
                "ranking": ranking,
            }
            message.set(PROPERTY, properties, add_to_output=True)
        return messages
