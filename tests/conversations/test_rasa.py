"""Rasa's own checks on the project: data validation and the conversation tests."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.authoring.training import child_env
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.conversation

# Rasa 3.6 warns about things that are not defects of the data:
# - intents only a channel sends as a payload, with no NLU examples (checked below);
# - responses that only custom actions send ("not used in any story or rule"); each of
#   them must really be sent by an action, which test_every_response_is_used checks;
# - a retrieval intent declared in the domain (which Rasa requires) being merged twice.
_USED_BY_ACTIONS = re.compile(r"The utterance '(utter_[a-z_]+)' is not used in any story or rule")
_RETRIEVAL_MERGE = (
    "The following duplicated intents have been found across multiple domain files: faq"
)
_PAYLOAD_ONLY = re.compile(
    r"The intent '(\w+)' is listed in the domain file, but is not found in the NLU training data"
)
# Intents no rule needs: bot.dialogue.policy.KopruPolicy hands every survey answer to the survey,
# which reads them (bot/insights/survey.py).
_INTENT_UNUSED = re.compile(r"The intent '(\w+)' is not used in any story or rule")
# Sent by Rasa's own action_default_fallback.
_SENT_BY_RASA = {"utter_default"}


def _rasa(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rasa", *args],
        cwd=PROJECT_ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _responses_sent_by_code() -> set[str]:
    sources = "\n".join(p.read_text() for p in (PROJECT_ROOT / "actions").glob("*.py"))
    sources += (PROJECT_ROOT / "kopru.yml").read_text()
    sent = set(re.findall(r"\"(utter_[a-z_]+)\"", sources))
    sent |= set(re.findall(r"- (utter_[a-z_]+)", sources))
    # action_order_status picks utter_order_status_<status>.
    prefixes = re.findall(r"f\"(utter_[a-z_]+)\{", sources)
    # Forms ask for each of their slots with utter_ask_<slot>.
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    asks = {f"utter_ask_{slot}" for form in domain["forms"].values()
            for slot in form["required_slots"]}  # fmt: skip
    return sent | asks | _SENT_BY_RASA | {f"{p}*" for p in prefixes}


def _sent_by_a_channel(intent: str) -> bool:
    """Intents no customer types: a channel sends them as a payload ("/intent"), a button
    of one of the bot's answers does, or the agent desk triggers them (Rasa's EXTERNAL_
    intents)."""
    sources = "\n".join(p.read_text() for p in (PROJECT_ROOT / "channels").glob("*.py"))
    if intent.startswith("EXTERNAL_"):
        return f'"{intent}"' in sources
    domain = (PROJECT_ROOT / "domain.yml").read_text()
    return f'"/{intent}"' in sources or f'payload: "/{intent}"' in domain


def _read_by_the_survey(intent: str) -> bool:
    return f'"{intent}"' in (PROJECT_ROOT / "bot" / "insights" / "survey.py").read_text()


def _is_sent(response: str, sent: set[str]) -> bool:
    return response in sent or any(s.endswith("*") and response.startswith(s[:-1]) for s in sent)


def test_rasa_data_validate_has_no_warnings_about_our_data() -> None:
    result = _rasa("data", "validate", "--domain", "domain.yml", "--data", "data")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if "UserWarning" in line]
    sent = _responses_sent_by_code()
    unexplained = []
    for line in warnings:
        used = _USED_BY_ACTIONS.search(line)
        if used and _is_sent(used.group(1), sent):
            continue
        if _RETRIEVAL_MERGE in line:
            continue
        unused = _INTENT_UNUSED.search(line)
        if unused and _read_by_the_survey(unused.group(1)):
            continue
        payload_only = _PAYLOAD_ONLY.search(line)
        if payload_only and _sent_by_a_channel(payload_only.group(1)):
            continue
        unexplained.append(line)
    assert unexplained == []
    assert "No story structure conflicts found" in output


def test_every_response_is_used() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    rules = (PROJECT_ROOT / "data" / "rules.yml").read_text()
    sent = _responses_sent_by_code()
    unused = [
        name
        for name in domain["responses"]
        if not name.startswith("utter_faq/") and name not in rules and not _is_sent(name, sent)
    ]
    assert unused == []


def test_every_response_speaks_three_languages() -> None:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    for name, variations in domain["responses"].items():
        languages = set()
        for variation in variations:
            conditions = variation.get("condition") or []
            language = next((c["value"] for c in conditions if c["name"] == "language"), "en")
            languages.add(language)
            placeholders = set(re.findall(r"\{(\w+)\}", variation["text"]))
            english = set(re.findall(r"\{(\w+)\}", variations[0]["text"]))
            assert placeholders == english, (name, language)
            payloads = [b["payload"] for b in variation.get("buttons", [])]
            assert payloads == [b["payload"] for b in variations[0].get("buttons", [])], name
        assert languages == {"en", "tr", "pl"}, name


def test_conversation_stories_pass(model: Path, tmp_path: Path) -> None:
    result = _rasa(
        "test", "core",
        "--model", str(model),
        "--stories", "tests/conversations",
        "--out", str(tmp_path / "results"),
        "--fail-on-prediction-errors",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    story_files = list((PROJECT_ROOT / "tests" / "conversations").glob("stories_*.yml"))
    assert {p.stem for p in story_files} == {"stories_en", "stories_tr", "stories_pl"}
    stories = sum(p.read_text().count("- story:") for p in story_files)
    assert f"Correct:          {stories} / {stories}" in output
