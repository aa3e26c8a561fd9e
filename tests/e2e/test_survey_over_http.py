"""End to end: the survey after a solved question, over HTTP in three languages.

Every test talks as a new sender, and the cool-down is per sender, so the shipped kopru.yml
(cooldown_days: 7) is used as it is.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.insights.survey import SurveyRecord, SurveyRepository
from bot.settings import PROJECT_ROOT
from bot.storage.store import Store
from tests.e2e.conftest import KopruProcess

pytestmark = pytest.mark.e2e

RESPONSES: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8")
)["responses"]


@pytest.fixture(scope="module")
def bot(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KopruProcess]:
    kopru = KopruProcess(model, tmp_path_factory.mktemp("e2e-survey"))
    yield kopru.start()
    kopru.stop()


def variation(response: str, language: str) -> dict[str, Any]:
    """The domain.yml variation of `response` the bot sends in `language`."""
    for candidate in RESPONSES[response]:
        conditions = candidate.get("condition") or []
        if any(c["name"] == "language" and c["value"] == language for c in conditions):
            return candidate
    return next(c for c in RESPONSES[response] if not c.get("condition"))


def find(messages: list[dict[str, Any]], response: str, language: str) -> dict[str, Any]:
    """The message that is `response` in `language`, with the buttons domain.yml gives it."""
    expected = variation(response, language)
    found = [m for m in messages if m.get("text") == expected["text"]]
    assert found, (response, language, [m.get("text") for m in messages])
    (message,) = found
    assert message.get("buttons", []) == expected.get("buttons", [])
    return message


def payloads(message: dict[str, Any]) -> list[str]:
    return [b["payload"] for b in message.get("buttons", [])]


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def surveys(bot: KopruProcess, sender: str) -> list[SurveyRecord]:
    return SurveyRepository(Store(bot.database_url)).of_sender(sender)


def new_sender(tag: str) -> str:
    return f"survey-{tag}-{uuid.uuid4().hex[:8]}"


# Texts the trained model classifies reliably (en/tr from tests/conversations/stories_*.yml;
# the pl story's "w jakich godzinach mogę się z wami skontaktować w weekend?" gets faq/contact).
QUESTION = {
    "en": "when is your support team available on weekends?",
    "tr": "hafta sonu müşteri hizmetlerine ulaşabilir miyim, saat kaça kadar açıksınız?",
    "pl": "w jakich godzinach pracuje obsługa klienta?",
}
YES = {"en": "yes", "tr": "evet", "pl": "tak"}
REASON = {
    "en": "the answer was quick and clear",
    "tr": "cevap hızlı ve netti",
    "pl": "odpowiedź była szybka i jasna",
}
BYE = {"en": "bye, have a nice day", "tr": "hoşça kalın, iyi günler",
       "pl": "do widzenia, miłego dnia"}  # fmt: skip


def solved_question(bot: KopruProcess, sender: str, language: str) -> dict[str, Any]:
    """Ask a frequent question, say it solved it; returns the NPS question."""
    answer = bot.say(sender, QUESTION[language])
    assert payloads(answer[-1]) == ["/affirm", "/deny"], joined(answer)
    solved = bot.say(sender, YES[language])
    find(solved, "utter_glad_resolved", language)
    return find(solved, "utter_ask_nps", language)


@pytest.mark.parametrize("language", ["en", "tr", "pl"])
def test_a_whole_survey_in_each_language(bot: KopruProcess, language: str) -> None:
    sender = new_sender(language)
    nps = solved_question(bot, sender, language)
    assert payloads(nps) == [str(score) for score in range(11)]
    assert [b["title"] for b in nps["buttons"]] == payloads(nps)

    reason = find(bot.say(sender, "9"), "utter_ask_survey_reason", language)
    assert payloads(reason) == ["/skip"]

    csat = find(bot.say(sender, REASON[language]), "utter_ask_csat", language)
    assert payloads(csat) == ["1", "2", "3", "4", "5"]

    find(bot.say(sender, "5"), "utter_survey_thanks", language)

    (survey,) = surveys(bot, sender)
    assert (survey.nps, survey.reason, survey.csat) == (9, REASON[language], 5)
    assert survey.status == "completed"
    assert survey.channel == "rest"
    assert survey.language == language
    assert survey.resolver == "bot"
    assert survey.intents == ["faq", "affirm"]
    assert survey.conversation_id is not None
    assert survey.answered_at is not None and survey.answered_at >= survey.asked_at

    # A goodbye right after is just a goodbye: the customer was asked within the cool-down.
    goodbye = bot.say(sender, BYE[language])
    find(goodbye, "utter_goodbye", language)
    assert len(goodbye) == 1
    assert len(surveys(bot, sender)) == 1


def test_scores_in_words_and_a_skipped_reason(bot: KopruProcess) -> None:
    sender = new_sender("words")
    solved_question(bot, sender, "tr")
    find(bot.say(sender, "sekiz"), "utter_ask_survey_reason", "tr")
    find(bot.say(sender, "/skip"), "utter_ask_csat", "tr")  # the Skip button
    find(bot.say(sender, "dört"), "utter_survey_thanks", "tr")
    (survey,) = surveys(bot, sender)
    assert (survey.nps, survey.reason, survey.csat, survey.status) == (8, None, 4, "completed")


def test_a_skip_word_and_a_score_out_of_range_at_the_csat_step(bot: KopruProcess) -> None:
    sender = new_sender("pl")
    solved_question(bot, sender, "pl")
    find(bot.say(sender, "osiem"), "utter_ask_survey_reason", "pl")
    find(bot.say(sender, "pomiń"), "utter_ask_csat", "pl")
    find(bot.say(sender, "dziesięć"), "utter_survey_invalid_csat", "pl")
    find(bot.say(sender, "cztery"), "utter_survey_thanks", "pl")
    (survey,) = surveys(bot, sender)
    assert (survey.nps, survey.reason, survey.csat, survey.status) == (8, None, 4, "completed")


def test_an_invalid_answer_is_asked_again_once_then_the_survey_ends(bot: KopruProcess) -> None:
    sender = new_sender("invalid")
    solved_question(bot, sender, "en")
    again = find(bot.say(sender, "great"), "utter_survey_invalid_nps", "en")
    assert payloads(again) == [str(score) for score in range(11)]
    assert [m.get("text") for m in bot.say(sender, "still great")] == [
        variation("utter_survey_end", "en")["text"]
    ]
    (survey,) = surveys(bot, sender)
    assert (survey.nps, survey.csat, survey.status) == (None, None, "ended")
    # The bot has the conversation back.
    find(bot.say(sender, "hello"), "utter_greet", "en")


def test_asking_something_new_instead_drops_the_survey(bot: KopruProcess) -> None:
    sender = new_sender("moved-on")
    solved_question(bot, sender, "en")
    answer = bot.say(sender, "where is my order 204518?")
    text = joined(answer)
    assert "204518" in text and "DHL" in text, text
    assert variation("utter_survey_invalid_nps", "en")["text"] not in text
    (survey,) = surveys(bot, sender)
    assert survey.status == "ended"
    assert survey.nps is None
    # ...and that answer's "did that solve it?" is answered as usual, without a new survey.
    solved = bot.say(sender, "yes")
    find(solved, "utter_glad_resolved", "en")
    assert len(solved) == 1
    assert len(surveys(bot, sender)) == 1


def pretend_time_passed(bot: KopruProcess, sender: str, seconds: float) -> None:
    """Move the sender's conversation back in time in Rasa's tracker store."""
    with sqlite3.connect(bot.tmp / "tracker.db") as db:
        rows = db.execute("SELECT id, data FROM events WHERE sender_id = ?", (sender,)).fetchall()
        for event_id, data in rows:
            event = json.loads(data)
            event["timestamp"] -= seconds
            db.execute(
                "UPDATE events SET timestamp = ?, data = ? WHERE id = ?",
                (event["timestamp"], json.dumps(event), event_id),
            )
    db.close()


def test_an_unanswered_survey_does_not_follow_the_customer_into_a_new_session(
    bot: KopruProcess,
) -> None:
    sender = new_sender("later")
    solved_question(bot, sender, "en")
    pretend_time_passed(bot, sender, 2 * 3600)  # sessions expire after 60 minutes
    answer = bot.say(sender, "thanks")
    assert variation("utter_survey_invalid_nps", "en")["text"] not in joined(answer)
    assert surveys(bot, sender)[0].status == "ended"


if os.environ.get("KOPRU_SKIP_E2E"):
    pytest.skip("KOPRU_SKIP_E2E is set", allow_module_level=True)
