"""bot.authoring.answers: the responses of domain.yml, checks and changes (on a project copy)."""

from __future__ import annotations

import difflib
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.authoring.answers import MAX_ANSWER_CHARS, Answers, Button, placeholders
from bot.authoring.training_data import DataError, Problem, TrainingData
from bot.settings import PROJECT_ROOT

DOMAIN = Path("domain.yml")
RULES = Path("data/rules.yml")
EN, TR, PL = (Path("data/nlu") / f"{lang}.yml" for lang in ("en", "tr", "pl"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    return tmp_path


@pytest.fixture
def answers(project: Path) -> Answers:
    return Answers.load(project)


def snapshot(root: Path) -> dict[Path, bytes]:
    files = [root / DOMAIN, *sorted((root / "data").rglob("*"))]
    return {p.relative_to(root): p.read_bytes() for p in files if p.is_file()}


def edits(before: bytes, after: bytes) -> list[tuple[str, list[str], list[str]]]:
    old, new = before.decode().splitlines(), after.decode().splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return [
        (op, old[i1:i2], new[j1:j2])
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    ]


def rasa_domain(root: Path) -> Any:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(root / DOMAIN))


def rasa_variation(domain: Any, name: str, language: str) -> dict[str, Any]:
    """The variation Rasa would pick for `language` (the default when none matches)."""
    variations = domain.responses[name]
    for variation in variations:
        condition = variation.get("condition") or []
        if any(c.get("name") == "language" and c.get("value") == language for c in condition):
            return dict(variation)
    return next(dict(v) for v in variations if not v.get("condition"))


def kinds(problems: list[Problem] | tuple[Problem, ...]) -> list[str]:
    return [p.kind for p in problems]


def without_variation(root: Path, response: str, language: str) -> None:
    """Delete a response's variation for `language` from the copy (the last one, by text)."""
    text = (root / DOMAIN).read_text(encoding="utf-8")
    start = text.index(f"  {response}:\n")
    end = text.find("\n\n", start)
    block = text[start:end]
    cut = block.index(f"          value: {language}\n")
    cut = block.rindex("    - condition:", 0, cut)
    assert block.find("    - condition:", cut + 1) == -1, "only the last variation"
    (root / DOMAIN).write_text(text[:start] + block[:cut].rstrip("\n") + text[end:], "utf-8")


# --- reading ---------------------------------------------------------------------------------


def test_responses_are_those_rasa_reads(answers: Answers, project: Path) -> None:
    domain = rasa_domain(project)
    summaries = {r.name: r for r in answers.responses()}
    assert set(summaries) == set(domain.responses)
    assert answers.languages == ("en", "tr", "pl")
    assert summaries["utter_greet"].languages == ("en", "tr", "pl")
    assert summaries["utter_ask_nps"].has_buttons
    assert not summaries["utter_greet"].has_buttons
    faq = summaries["utter_faq/opening_hours"]
    assert faq.is_faq and faq.faq_key == "opening_hours"
    assert not summaries["utter_greet"].is_faq and summaries["utter_greet"].faq_key is None
    assert summaries["utter_order_status_shipped"].placeholders == (
        "order_number",
        "carrier",
        "tracking_number",
        "eta",
    )
    for name in ("utter_greet", "utter_ask_survey_reason", "utter_faq/pricing"):
        for language, text in answers.texts(name).items():
            assert rasa_variation(domain, name, language)["text"] == text


def test_texts_and_buttons(answers: Answers) -> None:
    texts = answers.texts("utter_ask_survey_reason")
    assert list(texts) == ["en", "tr", "pl"]
    assert texts["en"].startswith("Thank you! What is the main reason")
    assert texts["tr"].startswith("Teşekkürler!")
    assert answers.buttons("utter_ask_survey_reason", "pl") == [Button("Pomiń", "/skip")]
    assert answers.buttons("utter_ask_survey_reason", "en") == [Button("Skip", "/skip")]
    assert len(answers.buttons("utter_ask_nps", "tr")) == 11
    assert answers.buttons("utter_greet", "en") == []
    assert answers.texts("utter_nope") == {}
    assert answers.response("utter_nope") is None


def test_placeholders() -> None:
    assert placeholders("Order {order_number} via {carrier}, {order_number}") == [
        "order_number",
        "carrier",
    ]
    assert placeholders("literal {{braces}} only") == []


def test_preview_fills_placeholders(answers: Answers) -> None:
    slots = {"order_number": "204518", "carrier": "DHL", "eta": None}
    assert answers.preview("utter_order_status_shipped", "pl", slots=slots) == (
        "Zamówienie nr 204518 jest już w drodze. Przewoźnik: DHL, numer przesyłki: "
        "{tracking_number}. Przewidywana dostawa: {eta}."
    )
    assert answers.preview(
        "x", "en", "Hi {customer_name}, {{not a slot}}", {"customer_name": "Ayşe"}
    ) == ("Hi Ayşe, {not a slot}")
    # without a text of its own, a language gets the English one, as in Rasa
    assert answers.preview("utter_nope", "tr") == ""
    assert answers.preview("utter_greet", "de").startswith("Hi, I'm Köprü")


# --- checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "severity"),
    [
        ("", "empty", "error"),
        ("  \n ", "empty", "error"),
        ("x" * (MAX_ANSWER_CHARS + 1), "too_long", "error"),
        ("Order {order_number is late", "braces", "error"),
        ("Order } is late", "braces", "error"),
        ("Order {order_number} via {courier}", "placeholder", "warning"),
        ("Order {order number}", "placeholder", "warning"),
    ],
)
def test_checks_of_an_answer(answers: Answers, text: str, kind: str, severity: str) -> None:
    problems = answers.check_text("utter_order_not_found", "tr", text)
    assert kind in kinds(problems)
    assert all(p.response == "utter_order_not_found" and p.language == "tr" for p in problems)
    assert next(p for p in problems if p.kind == kind).severity == severity


@pytest.mark.parametrize(
    "text",
    ["x" * MAX_ANSWER_CHARS, "{order_number} bulunamadı", "Yok {{süslü}} parantez", "ığüşöç"],
)
def test_good_answers_pass(answers: Answers, text: str) -> None:
    assert answers.check_text("utter_order_not_found", "tr", text) == []


def test_a_refused_answer_writes_nothing(project: Path, answers: Answers) -> None:
    before = snapshot(project)
    for call in (
        lambda: answers.set_text("utter_greet", "en", " "),
        lambda: answers.set_text("utter_greet", "en", "x" * 2001),
        lambda: answers.set_text("utter_greet", "en", "Hi {"),
        lambda: answers.set_text("utter_nope", "en", "Hi"),
        lambda: answers.set_text("utter_greet", "de", "Hallo"),
        lambda: answers.add_response("utter_greet", {"en": "Hi"}),
        lambda: answers.add_response("Utter Weather", {"en": "Hi"}),
        lambda: answers.add_response("utter_weather", {"tr": "Merhaba"}),
        lambda: answers.add_response("utter_weather", {"en": "Hi"}, rule_for_intent="nope"),
        lambda: answers.add_response("utter_weather", {"en": "Hi"}, rule_for_intent="greet"),
        lambda: answers.add_faq("Bad Key", {"en": ["q?"]}, {"en": "a"}),
        lambda: answers.add_faq("key\n", {"en": ["q?"]}, {"en": "a"}),
        lambda: answers.add_response("utter_x\n", {"en": "Hi"}),
        lambda: answers.add_faq("returns", {"en": ["Where is my  order?"]}, {"en": "a"}),
        lambda: answers.add_faq("returns", {"en": ["how do returns work"]}, {"en": ""}),
        lambda: answers.add_faq("opening_hours", {"en": ["new q"]}, {"en": "a"}),
    ):
        with pytest.raises(DataError):
            call()
    assert snapshot(project) == before


def test_refusal_reasons(answers: Answers) -> None:
    with pytest.raises(DataError) as refused:
        answers.add_response("utter_weather", {"tr": "Merhaba {city"}, rule_for_intent="greet")
    assert kinds(refused.value.problems) == ["missing_default", "braces", "rule_exists"]
    with pytest.raises(DataError) as refused:
        answers.add_faq("returns", {"en": ["Where is my  order?"]}, {"en": "See our policy."})
    assert kinds(refused.value.problems) == ["conflict"]


# --- changes ---------------------------------------------------------------------------------


CHANGES = [
    ("utter_greet", "en"),
    ("utter_greet", "tr"),
    ("utter_ask_nps", "pl"),  # with buttons
    ("utter_fallback", "en"),  # with buttons
    ("utter_faq/stores", "pl"),
]


def test_set_text_changes_exactly_one_line(project: Path, answers: Answers) -> None:
    new = 'Yeni metin: "ğüşıöçİ" ve \\ ters bölü; nowy tekst: zażółć gęślą jaźń, {customer_name}'
    buttons = {change: answers.buttons(*change) for change in CHANGES}
    for name, language in CHANGES:
        before = snapshot(project)
        change = answers.set_text(name, language, f"{new} {name}")
        after = snapshot(project)

        assert change.kind == "set_text" and change.files == (DOMAIN,)
        assert [p for p in after if after[p] != before[p]] == [DOMAIN]
        [(op, old_lines, new_lines)] = edits(before[DOMAIN], after[DOMAIN])
        assert op == "replace" and len(old_lines) == len(new_lines) == 1
        # the same key, indentation and double quotes
        prefix = old_lines[0][: old_lines[0].index('"') + 1]
        assert prefix.endswith('text: "') and new_lines[0].startswith(prefix)
        assert answers.texts(name)[language] == f"{new} {name}"
        assert answers.buttons(name, language) == buttons[(name, language)]

    domain = rasa_domain(project)
    for name, language in CHANGES:
        variation = rasa_variation(domain, name, language)
        assert variation["text"] == f"{new} {name}"
        saved = [Button(b["title"], b["payload"]) for b in variation.get("buttons", [])]
        assert saved == buttons[(name, language)]


def test_set_text_warns_about_a_new_placeholder_but_saves(answers: Answers) -> None:
    change = answers.set_text("utter_goodbye", "pl", "Do widzenia, {customer_name}!")
    assert kinds(change.warnings) == ["placeholder"]
    assert change.warnings[0].severity == "warning"
    assert answers.texts("utter_goodbye")["pl"] == "Do widzenia, {customer_name}!"
    # a placeholder the other languages use is fine
    change = answers.set_text("utter_order_not_found", "pl", "Brak zamówienia {order_number}.")
    assert change.warnings == ()


def test_set_text_adds_a_missing_language_like_the_others(project: Path) -> None:
    without_variation(project, "utter_you_are_welcome", "pl")
    answers = Answers.load(project)
    assert list(answers.texts("utter_you_are_welcome")) == ["en", "tr"]
    before = snapshot(project)
    change = answers.set_text("utter_you_are_welcome", "pl", "Nie ma za co! Coś jeszcze?")
    assert change.warnings == ()
    lines = before[DOMAIN].decode().splitlines()
    assert edits(before[DOMAIN], snapshot(project)[DOMAIN]) == [
        ("insert", [], ["    - condition:", "        - type: slot", "          name: language",
                        "          value: pl", '      text: "Nie ma za co! Coś jeszcze?"']),
    ]  # fmt: skip
    after = snapshot(project)[DOMAIN].decode().splitlines()
    at = after.index('      text: "Nie ma za co! Coś jeszcze?"')
    assert after[at + 1] == "" and after[at + 2] == "  utter_how_can_i_help:"
    assert len(after) == len(lines) + 5
    variation = rasa_variation(rasa_domain(project), "utter_you_are_welcome", "pl")
    assert variation["text"] == "Nie ma za co! Coś jeszcze?"


def test_a_new_language_variation_gets_the_default_buttons(project: Path) -> None:
    without_variation(project, "utter_ask_resolved", "pl")
    answers = Answers.load(project)
    change = answers.set_text("utter_ask_resolved", "pl", "Czy to rozwiązało Twój problem?")
    assert kinds(change.warnings) == ["buttons_copied"]
    assert answers.buttons("utter_ask_resolved", "pl") == answers.buttons(
        "utter_ask_resolved", "en"
    )
    variation = rasa_variation(rasa_domain(project), "utter_ask_resolved", "pl")
    assert [b["payload"] for b in variation["buttons"]] == ["/affirm", "/deny"]


def test_add_response_with_a_rule_for_a_new_intent(project: Path) -> None:
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    TrainingData.load(project).add_intent(
        "ask_weather", {"en": ["what's the weather like"], "tr": ["hava nasıl"]}
    )
    answers = Answers.load(project)
    before = snapshot(project)
    change = answers.add_response(
        "utter_ask_weather",
        {"en": "I can't tell the weather, sorry.", "tr": "Hava durumunu bilemiyorum."},
        rule_for_intent="ask_weather",
    )
    after = snapshot(project)
    assert set(change.files) == {DOMAIN, RULES}
    assert kinds(change.warnings) == ["missing_language"]  # no Polish text
    # after the last response that is not a FAQ answer, separated by blank lines
    [(op, old, new)] = edits(before[DOMAIN], after[DOMAIN])
    assert (op, old) == ("insert", [])
    assert new == [
        "  utter_ask_weather:",
        '    - text: "I can\'t tell the weather, sorry."',
        "    - condition:",
        "        - type: slot",
        "          name: language",
        "          value: tr",
        '      text: "Hava durumunu bilemiyorum."',
        "",
    ]
    lines = after[DOMAIN].decode().splitlines()
    at = lines.index("  utter_ask_weather:")
    assert lines[at - 2].startswith('      text: "') and lines[at - 1] == ""
    assert lines[at + 7] == "" and lines[at + 8].startswith("  utter_faq/")
    names = [r.name for r in Answers.load(project).responses()]
    assert names.index("utter_ask_weather") + 1 == names.index("utter_faq/opening_hours")
    # the rule, in the layout of the last rule of the file
    [(op, old, new)] = edits(before[RULES], after[RULES])
    assert (op, old) == ("insert", [])
    assert new == [
        "",
        "- rule: answer ask_weather with utter_ask_weather",
        "  steps:",
        "    - intent: ask_weather",
        "    - action: utter_ask_weather",
    ]
    domain = rasa_domain(project)
    assert rasa_variation(domain, "utter_ask_weather", "pl")["text"].startswith("I can't")
    rules = YAMLStoryReader(domain).read_from_file(str(project / RULES))
    assert any(step.block_name == "answer ask_weather with utter_ask_weather" for step in rules)


def test_add_faq_writes_the_question_and_its_answer(project: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    answers = Answers.load(project)
    before = snapshot(project)
    change = answers.add_faq(
        "returns_window",
        {"en": ["how long do i have to send something back", "return window?"],
         "tr": ["iade süresi ne kadar", "kaç gün içinde iade edebilirim"],
         "pl": ["ile mam czasu na zwrot", "do kiedy mogę oddać towar"]},
        {"en": "You have 30 days from delivery.", "tr": "Teslimattan itibaren 30 gününüz var.",
         "pl": "Masz 30 dni od doręczenia, żeby oddać towar."},
    )  # fmt: skip
    after = snapshot(project)
    assert change.kind == "add_faq"
    assert set(change.files) == {DOMAIN, EN, TR, PL}
    assert change.warnings == ()
    # only additions, at the end of each file (the FAQ answers are last in domain.yml)
    for relative in (DOMAIN, EN, TR, PL):
        assert after[relative].startswith(before[relative])
    condition = "    - condition:\n        - type: slot\n          name: language\n"
    added = after[DOMAIN].decode().removeprefix(before[DOMAIN].decode())
    assert added == (
        '\n  utter_faq/returns_window:\n    - text: "You have 30 days from delivery."\n'
        f"{condition}          value: tr\n"
        '      text: "Teslimattan itibaren 30 gününüz var."\n'
        f"{condition}          value: pl\n"
        '      text: "Masz 30 dni od doręczenia, żeby oddać towar."\n'
    )
    domain = rasa_domain(project)
    assert rasa_variation(domain, "utter_faq/returns_window", "tr")["text"].startswith("Teslim")
    assert "returns_window" not in domain.intents and "faq" in domain.intents
    for relative in (EN, TR, PL):
        examples = load_data(str(project / relative)).intent_examples
        counts = Counter(m.get("intent_response_key") for m in examples)
        assert counts["faq/returns_window"] == 2
    summary = TrainingData.load(project).intent("faq/returns_window")
    assert summary is not None and summary.retrieval_intent == "faq"
    assert answers.response("utter_faq/returns_window") is not None


def test_concurrent_answer_changes_all_land(project: Path) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    jobs = [("utter_goodbye", "Güle güle!"), ("utter_survey_thanks", "Teşekkürler!")]

    def admin(name: str, text: str) -> None:
        answers = Answers.load(project)
        start.wait()
        try:
            answers.set_text(name, "tr", text)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=admin, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    answers = Answers.load(project)
    for name, text in jobs:
        assert answers.texts(name)["tr"] == text
