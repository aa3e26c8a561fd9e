"""Köprü's intent classifier as a Rasa graph component: train, persist, load, predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.classifier import KopruIntentClassifier
from tests.unit.nlu.test_linear import LABELS, TEXTS

CONTEXT = ExecutionContext(GraphSchema({}), "test")


def _trained(tmp_path: Path, **config: Any) -> tuple[KopruIntentClassifier, LocalModelStorage]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    storage = LocalModelStorage(tmp_path)
    resource = Resource("intents")
    component = KopruIntentClassifier.create(config, storage, resource, CONTEXT)
    examples = [Message.build(text=t, intent=i) for t, i in zip(TEXTS, LABELS, strict=True)]
    component.train(TrainingData(training_examples=examples))
    return KopruIntentClassifier.load(config, storage, resource, CONTEXT), storage


def _parse(component: KopruIntentClassifier, *texts: str) -> list[Message]:
    return component.process([Message.build(text=t) for t in texts])


@pytest.mark.parametrize("gate", [0.0, 2.0])
def test_a_loaded_model_predicts_intents_with_a_ranking(tmp_path: Path, gate: float) -> None:
    component, _ = _trained(tmp_path, encoder_gate=gate)
    order, password = _parse(component, "where is my parcel", "zapomniałem hasła")
    assert order.get("intent")["name"] == "order"
    assert password.get("intent")["name"] == "password"
    ranking = password.get("intent_ranking")
    assert [r["name"] for r in ranking] == ["password", "order"]
    assert ranking[0]["confidence"] == password.get("intent")["confidence"]
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 < c < 1.0 for c in confidences)


def test_the_encoder_runs_only_for_messages_below_the_gate(tmp_path: Path) -> None:
    never, _ = _trained(tmp_path / "never", encoder_gate=0.0)
    _parse(never, "where is my parcel")
    assert not never.cache._rows
    always, _ = _trained(tmp_path / "always", encoder_gate=2.0)
    _parse(always, "where is my parcel", "where is my parcel")
    assert list(always.cache._rows) == ["where is my parcel"]  # encoded once, then cached


def test_without_the_encoder_only_the_ngram_model_is_saved(tmp_path: Path) -> None:
    component, _ = _trained(tmp_path, encoder=False, encoder_gate=2.0)
    assert set(component.models) == {"sparse"}
    (message,) = _parse(component, "reset my password")
    assert message.get("intent")["name"] == "password"


def test_an_untrained_component_leaves_messages_alone(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    component = KopruIntentClassifier.load({}, storage, Resource("nothing"), CONTEXT)
    (message,) = _parse(component, "hello")
    assert message.get("intent") is None


def test_the_ranking_is_cut_to_its_length(tmp_path: Path) -> None:
    component, _ = _trained(tmp_path, ranking_length=1)
    (message,) = _parse(component, "where is my order")
    assert len(message.get("intent_ranking")) == 1
