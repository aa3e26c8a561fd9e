"""A model trained before the layout of issue 14 (components at their old class paths) still
loads and answers: rolling back to an earlier model works."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from rasa.utils.endpoints import EndpointConfig

MODEL = Path(__file__).resolve().parents[2] / "data" / "models" / "before-layout.tar.gz"


def test_the_archive_names_the_old_class_paths() -> None:
    with tarfile.open(MODEL) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("metadata.json"))
        handle = archive.extractfile(member)
        assert handle is not None
        uses = json.dumps(json.load(handle))
    assert '"bot.policy.KopruPolicy"' in uses
    assert '"bot.nlu.classifier.KopruIntentClassifier"' in uses
    assert '"bot.nlu.selector.KopruResponseSelector"' in uses


@pytest.mark.asyncio
async def test_a_model_trained_before_the_move_loads_and_answers() -> None:
    from rasa.core.agent import Agent

    from bot.dialogue.policy import KopruPolicy

    agent = Agent.load(str(MODEL))
    assert agent.is_ready()
    parsed = await agent.parse_message("merhaba")
    assert parsed["intent"]["name"] == "greet"
    faq = await agent.parse_message("what are your opening hours")
    assert faq["response_selector"]["faq"]["response"]["intent_response_key"] == "faq/opening_hours"
    answers = await agent.handle_text("good morning", sender_id="rollback")
    assert [a.get("text") for a in answers] == ["Hello!"]
    assert agent.processor is not None
    policies = agent.processor.graph_runner._execution_context.graph_schema.nodes
    assert any(node.uses is KopruPolicy for node in policies.values())


def test_an_endpoints_file_written_before_the_move_names_a_tracker_store_that_loads() -> None:
    from rasa.core.tracker_store import TrackerStore

    from bot.serving.tracker_store import DurableSQLTrackerStore

    endpoint = EndpointConfig(type="bot.tracker_store.DurableSQLTrackerStore", db=":memory:")
    store = TrackerStore.create(endpoint)
    assert type(store) is DurableSQLTrackerStore
