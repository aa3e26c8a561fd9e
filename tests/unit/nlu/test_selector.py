"""Köprü's response selector fills `response_selector` as Rasa's own does."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.selector import KopruResponseSelector

CONTEXT = ExecutionContext(GraphSchema({}), "test")
EXAMPLES = {
    "faq/opening_hours": [
        "when are you open",
        "opening hours",
        "çalışma saatleri",
        "godziny otwarcia",
    ],
    "faq/contact": [
        "how can I contact you",
        "phone number",
        "iletişim bilgileri",
        "numer telefonu",
    ],
}
RESPONSES = {
    "utter_faq/opening_hours": [{"text": "We are open 8-20."}],
    "utter_faq/contact": [{"text": "Call us."}],
}


def _data() -> TrainingData:
    messages = [
        Message.build(text=text, intent=key)  # "faq/contact": Rasa splits the response key
        for key, texts in EXAMPLES.items()
        for text in texts
    ]
    messages.append(Message.build(text="hello", intent="greet"))
    return TrainingData(training_examples=messages, responses=RESPONSES)


def _selector(tmp_path: Path) -> KopruResponseSelector:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("selector")
    config = {"retrieval_intent": "faq"}
    KopruResponseSelector.create(config, storage, resource, CONTEXT).train(_data())
    return KopruResponseSelector.load(config, storage, resource, CONTEXT)


def _message(text: str, intent: str) -> Message:
    message = Message.build(text=text)
    message.set("intent", {"name": intent, "confidence": 0.9})
    return message


def test_a_faq_message_gets_rasas_response_selector_property(tmp_path: Path) -> None:
    (message,) = _selector(tmp_path).process([_message("what are your opening hours", "faq")])
    properties = message.get("response_selector")
    assert properties["all_retrieval_intents"] == ["faq"]
    response = properties["faq"]["response"]
    assert response["intent_response_key"] == "faq/opening_hours"
    assert response["utter_action"] == "utter_faq/opening_hours"
    assert response["responses"] == RESPONSES["utter_faq/opening_hours"]
    ranking = properties["faq"]["ranking"]
    assert ranking[0]["intent_response_key"] == "faq/opening_hours"
    assert ranking[0]["confidence"] == response["confidence"]
    assert {r["intent_response_key"] for r in ranking} == set(EXAMPLES)


def test_other_intents_are_left_alone(tmp_path: Path) -> None:
    (message,) = _selector(tmp_path).process([_message("hello there", "greet")])
    assert message.get("response_selector") is None


def test_without_examples_of_the_retrieval_intent_nothing_is_trained(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    selector = KopruResponseSelector.create({}, storage, Resource("s"), CONTEXT)
    selector.train(TrainingData(training_examples=[Message.build(text="hi", intent="greet")]))
    loaded = KopruResponseSelector.load({}, storage, Resource("s"), CONTEXT)
    (message,) = loaded.process([_message("opening hours", "faq")])
    assert message.get("response_selector") is None
