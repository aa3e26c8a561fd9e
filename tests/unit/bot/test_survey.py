"""The survey's pure part (scores, what an answer means, its config) and its repository."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.insights.survey import (
    DAY,
    Interpretation,
    Kind,
    Step,
    SurveyConfig,
    SurveyRepository,
    interpret,
    parse_score,
    parse_survey_config,
)
from bot.settings import PROJECT_ROOT
from bot.shop.business import load_business_config
from bot.storage.store import Store

# --- parse_score -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "score"),
    [
        # digits, with the blanks and sentence punctuation customers type around them
        ("0", 0), ("7", 7), ("10", 10), (" 8 ", 8), ("8.", 8), ("9!", 9), ("08", 8),
        # "out of" written with a slash (only /10 and /5 are recognised)
        ("8/10", 8), ("8 / 10", 8), ("10/10", 10), ("4/5", 4), ("4/5.", 4),
        # the range is interpret's business: two digits are parsed whatever they are
        ("11", 11), ("99", 99),
        # words in English, Turkish and Polish, case- and punctuation-insensitive
        ("zero", 0), ("eight", 8), ("Eight!", 8), ("ten", 10), ("one", 1),
        ("sıfır", 0), ("bir", 1), ("dört", 4), ("beş", 5), ("sekiz", 8), ("on", 10),
        ("jeden", 1), ("pięć", 5), ("osiem", 8), ("dziewięć", 9), ("dziesięć", 10),
        ("Osiem.", 8), (" SEKIZ ", 8),
        # a decomposed "ę"/"ć" (as some keyboards send it) is normalised to NFC first
        ("dziesie\u0328c\u0301", 10),
    ],
)  # fmt: skip
def test_parse_score_accepts(text: str, score: int) -> None:
    assert parse_score(text) == score


@pytest.mark.parametrize(
    "text",
    [
        "", "   ", "great", "nine out of ten", "-1", "1.5", "100", "204518", "8/7", "8 10",
        "8/100", "score 8", "8 points", "osiem i pol", "9 out of 100", "10 üzerinden",
    ],
)  # fmt: skip
def test_parse_score_rejects(text: str) -> None:
    assert parse_score(text) is None


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("9 out of 10", 9), ("9 na 10", 9), ("10 üzerinden 9", 9), ("4 z 5", 4),
        # numbers typed without Turkish/Polish diacritics
        ("dort", 4), ("bes", 5), ("sifir", 0), ("piec", 5), ("dziesiec", 10),
    ],
)  # fmt: skip
def test_parse_score_understands_how_people_type(text: str, score: int) -> None:
    assert parse_score(text) == score


# --- interpret -------------------------------------------------------------------------------

ANSWER, SKIP, INVALID, NEW_TOPIC = Kind.ANSWER, Kind.SKIP, Kind.INVALID, Kind.NEW_TOPIC


@pytest.mark.parametrize("score", range(11))
def test_every_nps_score_is_an_answer(score: int) -> None:
    assert interpret(Step.NPS, str(score), "inform") == Interpretation(ANSWER, score=score)


@pytest.mark.parametrize("score", range(1, 6))
def test_every_csat_score_is_an_answer(score: int) -> None:
    assert interpret(Step.CSAT, str(score), "inform") == Interpretation(ANSWER, score=score)


@pytest.mark.parametrize(
    ("step", "text", "intent", "confidence", "expected"),
    [
        # NPS: numbers in and out of range
        (Step.NPS, "11", "inform", 0.9, Interpretation(INVALID)),
        (Step.NPS, "-1", "inform", 0.9, Interpretation(INVALID)),
        (Step.NPS, "42", "inform", 0.9, Interpretation(INVALID)),
        (Step.NPS, "8/10", "inform", 0.9, Interpretation(ANSWER, score=8)),
        (Step.NPS, "sekiz", "inform", 0.9, Interpretation(ANSWER, score=8)),
        (Step.NPS, "osiem", None, 0.0, Interpretation(ANSWER, score=8)),
        (Step.NPS, "ten", "out_of_scope", 0.9, Interpretation(ANSWER, score=10)),
        # a number wins over the intent, even a new-topic one
        (Step.NPS, "11", "order_status", 0.9, Interpretation(INVALID)),
        # something new, understood with enough confidence, drops the survey
        (Step.NPS, "where is my order 204518?", "order_status", 0.9, Interpretation(NEW_TOPIC)),
        (Step.NPS, "order status", "order_status", 0.5, Interpretation(NEW_TOPIC)),
        (Step.NPS, "bye", "goodbye", 0.95, Interpretation(NEW_TOPIC)),
        (Step.NPS, "hello", "greet", 0.9, Interpretation(NEW_TOPIC)),
        (Step.NPS, "what are your opening hours?", "faq", 0.8, Interpretation(NEW_TOPIC)),
        (Step.NPS, "agent please", "request_human", 0.7, Interpretation(NEW_TOPIC)),
        # ...but not when the classifier is unsure
        (Step.NPS, "order status", "order_status", 0.49, Interpretation(INVALID)),
        (Step.NPS, "hmm", "nlu_fallback", 0.9, Interpretation(INVALID)),
        # yes/no/thanks are no answer and no new topic
        (Step.NPS, "yes", "affirm", 0.99, Interpretation(INVALID)),
        (Step.NPS, "no", "deny", 0.99, Interpretation(INVALID)),
        (Step.NPS, "thanks", "thank_you", 0.99, Interpretation(INVALID)),
        (Step.NPS, "great", None, 1.0, Interpretation(INVALID)),
        (Step.NPS, "", None, 1.0, Interpretation(INVALID)),
        (Step.NPS, "/skip", "skip", 1.0, Interpretation(INVALID)),
        # REASON: free text is the answer, stripped
        (Step.REASON, "  fast delivery \n", "inform", 0.9,
         Interpretation(ANSWER, text="fast delivery")),
        (Step.REASON, "9", "inform", 0.9, Interpretation(ANSWER, text="9")),
        # a new question at the reason step is taken as the reason
        (Step.REASON, "where is my order?", "order_status", 0.99,
         Interpretation(ANSWER, text="where is my order?")),
        # skipping: the button's intent, or a skip word in any of the three languages
        (Step.REASON, "/skip", "skip", 1.0, Interpretation(SKIP)),
        (Step.REASON, "skip", None, 1.0, Interpretation(SKIP)),
        (Step.REASON, "Skip!", "inform", 0.4, Interpretation(SKIP)),
        (Step.REASON, "pomiń", "inform", 0.9, Interpretation(SKIP)),
        (Step.REASON, "pomin", "inform", 0.9, Interpretation(SKIP)),
        (Step.REASON, "geç", "inform", 0.9, Interpretation(SKIP)),
        (Step.REASON, "Hayır.", "deny", 0.9, Interpretation(SKIP)),
        (Step.REASON, "nie", "deny", 0.9, Interpretation(SKIP)),
        (Step.REASON, "no", "deny", 0.9, Interpretation(SKIP)),
        (Step.REASON, "-", None, 1.0, Interpretation(SKIP)),
        (Step.REASON, "skip this, it was fine", "skip", 0.8, Interpretation(SKIP)),
        # nothing, or another button's payload, is no reason
        (Step.REASON, "", None, 1.0, Interpretation(INVALID)),
        (Step.REASON, "   ", None, 1.0, Interpretation(INVALID)),
        (Step.REASON, "/greet", "greet", 1.0, Interpretation(INVALID)),
        # the "/skip" payload skips even when NLU did not set the intent
        (Step.REASON, "/skip", None, 1.0, Interpretation(SKIP)),
        # CSAT: 1..5
        (Step.CSAT, "0", "inform", 0.9, Interpretation(INVALID)),
        (Step.CSAT, "6", "inform", 0.9, Interpretation(INVALID)),
        (Step.CSAT, "10", "inform", 0.9, Interpretation(INVALID)),
        (Step.CSAT, "ten", "inform", 0.9, Interpretation(INVALID)),
        (Step.CSAT, "5/5", "inform", 0.9, Interpretation(ANSWER, score=5)),
        (Step.CSAT, "beş", "inform", 0.9, Interpretation(ANSWER, score=5)),
        (Step.CSAT, "pięć", "inform", 0.9, Interpretation(ANSWER, score=5)),
        (Step.CSAT, "where is my order?", "order_status", 0.9, Interpretation(NEW_TOPIC)),
        (Step.CSAT, "yes", "affirm", 0.9, Interpretation(INVALID)),
    ],
)  # fmt: skip
def test_interpret(
    step: Step, text: str, intent: str | None, confidence: float, expected: Interpretation
) -> None:
    assert interpret(step, text, intent, confidence) == expected


def test_a_long_reason_is_cut_to_1000_characters() -> None:
    answer = interpret(Step.REASON, "  " + "slow " * 300, "inform", 0.9)
    assert answer.kind is ANSWER
    assert answer.text is not None
    assert len(answer.text) == 1000
    assert answer.text == ("slow " * 300).strip()[:1000]


def test_the_default_confidence_trusts_the_intent() -> None:
    assert interpret(Step.NPS, "where is my order", "order_status").kind is NEW_TOPIC


# --- parse_survey_config ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "cooldown"),
    [
        (None, 7 * DAY),
        ({}, 7 * DAY),
        ({"cooldown_days": 7}, 7 * DAY),
        ({"cooldown_days": 0}, 0.0),
        ({"cooldown_days": 0.0}, 0.0),
        ({"cooldown_days": 1.5}, 1.5 * DAY),
        ({"cooldown_days": 30}, 30 * DAY),
    ],
)
def test_survey_config(raw: Any, cooldown: float) -> None:
    config = parse_survey_config(raw)
    assert config == SurveyConfig(cooldown=cooldown)
    assert isinstance(config.cooldown, float)


def test_the_default_cooldown_is_a_week() -> None:
    assert SurveyConfig().cooldown == 7 * 24 * 3600


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"cooldown_days": -1}, "0 or more"),
        ({"cooldown_days": -0.5}, "0 or more"),
        ({"cooldown_days": "7"}, "number of days"),
        ({"cooldown_days": True}, "number of days"),
        ({"cooldown_days": False}, "number of days"),
        ({"cooldown_days": None}, "number of days"),
        ({"cooldown_days": [7]}, "number of days"),
        ({"cooldown": 7}, "unknown keys ['cooldown']"),
        ({"cooldown_days": 7, "enabled": True}, "unknown keys ['enabled']"),
        ("weekly", "must be a mapping"),
        ([{"cooldown_days": 7}], "must be a mapping"),
        (7, "must be a mapping"),
    ],
)
def test_bad_survey_config(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError, match="survey") as error:
        parse_survey_config(raw)
    assert message in str(error.value)


def test_a_nan_cooldown_is_rejected() -> None:
    # YAML `.nan` would silently switch the cool-down off: `now - last < nan` is never true.
    with pytest.raises(ConfigError):
        parse_survey_config({"cooldown_days": math.nan})


def test_the_shipped_kopru_yml_has_a_weekly_cooldown() -> None:
    assert load_business_config(PROJECT_ROOT / "kopru.yml").survey == SurveyConfig(7 * DAY)


# --- SurveyRepository ------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_database_url: str) -> SurveyRepository:
    store = Store(tmp_database_url)
    store.create_schema()
    return SurveyRepository(store)


def start(repo: SurveyRepository, sender: str = "alice", at: float = 100.0, **kw: Any) -> Any:
    values: dict[str, Any] = {
        "sender_id": sender,
        "conversation_id": 3,
        "channel": "telegram",
        "language": "tr",
        "intents": ["greet", "order_status", "affirm"],
        "resolver": "bot",
        "at": at,
    }
    return repo.start(**{**values, **kw})


def test_start_stores_the_conversation_details(repo: SurveyRepository) -> None:
    survey = start(repo)
    assert survey.id > 0
    assert survey.sender_id == "alice"
    assert survey.conversation_id == 3
    assert survey.channel == "telegram"
    assert survey.language == "tr"
    assert survey.intents == ["greet", "order_status", "affirm"]
    assert survey.resolver == "bot"
    assert survey.asked_at == 100.0
    assert (survey.nps, survey.reason, survey.csat, survey.answered_at) == (None,) * 4
    assert survey.status == "asked"
    assert repo.open_for("alice") == survey


def test_start_accepts_any_sequence_of_intents_and_no_conversation(
    repo: SurveyRepository,
) -> None:
    survey = start(repo, intents=("faq",), conversation_id=None, resolver="U123")
    assert survey.intents == ["faq"]
    assert survey.conversation_id is None
    assert survey.resolver == "U123"


def test_answers_are_stored_by_update(repo: SurveyRepository) -> None:
    survey = start(repo)
    repo.update(survey.id, nps=9, answered_at=101.0)
    repo.update(survey.id, reason="fast delivery")
    opened = repo.open_for("alice")
    assert opened is not None
    assert (opened.nps, opened.reason, opened.csat) == (9, "fast delivery", None)
    repo.update(survey.id, csat=5, answered_at=102.0, status="completed")
    assert repo.open_for("alice") is None
    (done,) = repo.of_sender("alice")
    assert (done.nps, done.reason, done.csat, done.answered_at) == (9, "fast delivery", 5, 102.0)
    assert done.status == "completed"


def test_update_with_an_unknown_column_changes_nothing(repo: SurveyRepository) -> None:
    survey = start(repo)
    with pytest.raises(ValueError, match=r"unknown survey columns: \['score'\]"):
        repo.update(survey.id, nps=3, score=3)
    assert repo.of_sender("alice") == [survey]


def test_a_second_start_ends_the_unfinished_survey(repo: SurveyRepository) -> None:
    first = start(repo, at=100.0)
    other = start(repo, sender="bob", at=100.5)
    second = start(repo, at=200.0)
    earlier, latest = repo.of_sender("alice")
    assert earlier.id == first.id and earlier.status == "ended"
    assert latest == second and latest.status == "asked"
    assert repo.open_for("alice") == second
    assert repo.open_for("bob") == other  # other customers' surveys are left alone


def test_a_second_start_leaves_a_completed_survey_alone(repo: SurveyRepository) -> None:
    first = start(repo)
    repo.update(first.id, nps=10, csat=5, status="completed")
    start(repo, at=300.0)
    assert [s.status for s in repo.of_sender("alice")] == ["completed", "asked"]


def test_last_asked(repo: SurveyRepository) -> None:
    assert repo.last_asked("alice") is None
    start(repo, at=100.0)
    start(repo, at=250.0)
    start(repo, sender="bob", at=900.0)
    assert repo.last_asked("alice") == 250.0
    assert repo.last_asked("bob") == 900.0
    assert repo.last_asked("carol") is None


def test_of_sender_is_oldest_first_and_only_that_sender(repo: SurveyRepository) -> None:
    a1 = start(repo, at=100.0)
    start(repo, sender="bob", at=150.0)
    a2 = start(repo, at=200.0)
    assert [s.id for s in repo.of_sender("alice")] == [a1.id, a2.id]
    assert repo.of_sender("nobody") == []


def test_between_is_half_open_and_ordered_by_time(repo: SurveyRepository) -> None:
    late = start(repo, sender="a", at=300.0)
    early = start(repo, sender="b", at=100.0)
    middle = start(repo, sender="c", at=200.0)
    assert [s.id for s in repo.between(100.0, 300.0)] == [early.id, middle.id]
    assert [s.id for s in repo.between(100.0, 300.5)] == [early.id, middle.id, late.id]
    assert repo.between(100.5, 199.9) == []
    assert repo.between(300.0, 100.0) == []
