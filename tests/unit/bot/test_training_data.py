"""bot.authoring.training_data: queries, checks, changes of the NLU data (project copy)."""

from __future__ import annotations

import difflib
import fcntl
import shutil
import stat
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.authoring.training import data_fingerprint
from bot.authoring.training_data import (
    LOCK_FILE,
    DataError,
    Problem,
    TrainingData,
    YamlFile,
    normalise_example,
    plain_text,
)
from bot.errors import KopruError
from bot.settings import PROJECT_ROOT

EN, TR, PL = (Path("data/nlu") / f"{lang}.yml" for lang in ("en", "tr", "pl"))
DOMAIN = Path("domain.yml")
DOMAIN_PLAIN = {"entities": ["order_number", "email"], "intents": ["greet", "faq"]}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "data", tmp_path / "data")
    return tmp_path


@pytest.fixture
def data(project: Path) -> TrainingData:
    return TrainingData.load(project)


def snapshot(root: Path) -> dict[Path, bytes]:
    files = [root / DOMAIN, *sorted((root / "data").rglob("*"))]
    return {p.relative_to(root): p.read_bytes() for p in files if p.is_file()}


def edits(before: bytes, after: bytes) -> list[tuple[str, list[str], list[str]]]:
    """The changed line ranges: (operation, old lines, new lines)."""
    old = before.decode().splitlines()
    new = after.decode().splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return [
        (op, old[i1:i2], new[j1:j2])
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    ]


def rasa_counts(path: Path) -> Counter[str]:
    from rasa.shared.nlu.training_data.loading import load_data

    training_data = load_data(str(path))
    return Counter(
        m.get("intent_response_key") or m.get("intent") for m in training_data.intent_examples
    )


def tiny(examples: dict[str, dict[str, list[str]]]) -> TrainingData:
    """TrainingData over in-memory files: {language: {intent: [examples]}}."""
    nlu = {
        lang: {"nlu": [{"intent": i, "examples": "".join(f"- {e}\n" for e in ex)}
                       for i, ex in intents.items()]}
        for lang, intents in examples.items()
    }  # fmt: skip
    return TrainingData(Path("/nonexistent"), nlu, DOMAIN_PLAIN)


def kinds(problems: list[Problem]) -> list[str]:
    return [p.kind for p in problems]


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [EN, TR, PL, DOMAIN])
def test_the_real_files_are_written_back_byte_for_byte_when_nothing_changed(
    relative: Path,
) -> None:
    yaml_file = YamlFile(PROJECT_ROOT, relative)
    assert yaml_file.tree is not None
    assert yaml_file.render() == yaml_file.original


def test_languages_entities_and_counts_match_what_rasa_reads(data: TrainingData) -> None:
    assert data.languages == ("en", "tr", "pl")
    assert set(data.entities) == {"order_number", "email"}
    for language, relative in (("en", EN), ("tr", TR), ("pl", PL)):
        expected = rasa_counts(data.root / relative)
        ours = {s.name: s.counts[language] for s in data.intents() if s.counts[language]}
        assert ours == dict(expected)


def test_intents_list_retrieval_children_with_their_parent(data: TrainingData) -> None:
    summaries = {s.name: s for s in data.intents()}
    assert summaries["faq/opening_hours"].retrieval_intent == "faq"
    assert summaries["greet"].retrieval_intent is None
    assert "faq" not in summaries
    assert summaries["greet"].total == sum(summaries["greet"].counts.values())
    assert data.intent("nope") is None


def test_examples_are_the_lines_as_written_with_annotations(data: TrainingData) -> None:
    examples = data.examples("order_status", "en")
    assert "where is order [204581](order_number)" in examples
    assert "status of #[318822](order_number)?" in examples
    assert data.examples("order_status", "de") == []
    assert data.examples("nope", "en") == []


def test_find_compares_normalised_text(data: TrainingData) -> None:
    assert data.find("  WHERE is   order 204581 ") == [("order_status", "en")]
    assert data.find("where is order [204581](order_number)") == [("order_status", "en")]
    assert set(data.find("Hello")) >= {("greet", "en"), ("greet", "tr")}
    assert data.find("no such sentence anywhere") == []


def test_normalisation() -> None:
    assert plain_text('invoice for #[387260](order_number) to [a@b.co]{"entity": "email"}') == (
        "invoice for #387260 to a@b.co"
    )
    assert normalise_example("  Zamówienie\tNR  [123](order_number) ") == "zamówienie nr 123"
    assert normalise_example("IŞIK Łódź") == "işik łódź"
    assert normalise_example("İade İSTİYORUM") == normalise_example("iade istiyorum")
    assert normalise_example("ıslak") != normalise_example("islak")


def test_thin_languages() -> None:
    data = tiny(
        {
            "en": {"a": [f"a{i}" for i in range(20)], "b": [f"b{i}" for i in range(4)]},
            "tr": {"a": [f"c{i}" for i in range(8)], "b": [f"d{i}" for i in range(5)]},
            "pl": {"a": [f"e{i}" for i in range(7)]},
        }
    )
    summary = {s.name: s for s in data.intents()}
    # a: best 20 -> threshold max(5, 8) = 8
    assert summary["a"].thin_languages == ("pl",)
    # b: best 5 -> threshold 5: en has 4, pl none
    assert summary["b"].thin_languages == ("en", "pl")
    assert summary["b"].counts == {"en": 4, "tr": 5, "pl": 0}


def test_the_real_data_has_no_duplicates_or_conflicts(data: TrainingData) -> None:
    assert data.audit() == []


def test_audit_reports_duplicates_and_conflicts() -> None:
    data = tiny({"en": {"a": ["Hi", "hi ", "x"], "b": ["X"]}})
    assert sorted(kinds(data.audit())) == ["conflict", "duplicate"]
    assert all(p.severity == "warning" for p in data.audit())


# --- checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "empty"),
        ("   \t ", "empty"),
        ("x" * 501, "too_long"),
        ("HELLO   there", "duplicate"),
        ("[hello](order_number) there", "duplicate"),
        ("bye", "conflict"),
        ("do widzenia", "conflict"),
        ("order [123456](order_number", "annotation"),
        ("order 123456](order_number)", "annotation"),
        ("order [123456] please", "annotation"),
        ("order [[123456](order_number)", "annotation"),
        ('order [123456]{"entity": order_number}', "annotation"),
        ("my [code](coupon) is", "unknown_entity"),
        ('my [code]{"entity": "coupon"} is', "unknown_entity"),
        ("line one\nline two", "invalid_character"),
        ("zero\x00width", "invalid_character"),
        ("para\u2029graph", "invalid_character"),
    ],
)
def test_a_bad_example_is_refused(text: str, kind: str) -> None:
    data = tiny({"en": {"greet": ["hello there"], "goodbye": ["bye"]},
                 "pl": {"goodbye": ["do widzenia"]}})  # fmt: skip
    problems = data.check_examples("greet", "en", [text])
    assert kind in kinds(problems), problems
    assert all(p.intent == "greet" and p.language == "en" for p in problems)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 500,
        "hello there again",
        "order [204518](order_number) please",
        "order [204518](order_number:204518)",
        'mail [a@b.co]{"entity": "email"}',
        "[a@b.co](email) and #[123456](order_number)",
        "günaydın, sipariş şu: ığüşöç",
        "dzień dobry, zażółć gęślą jaźń",
        "hola\ttab",
    ],
)
def test_a_good_example_passes(text: str) -> None:
    data = tiny({"en": {"greet": ["hello there"], "goodbye": ["bye"]}})
    assert data.check_examples("greet", "en", [text]) == []


def test_duplicates_within_one_batch_and_the_same_text_in_another_language() -> None:
    data = tiny({"en": {"greet": ["hello"]}, "tr": {"greet": ["merhaba"]}})
    assert kinds(data.check_examples("greet", "en", ["hey", "Hey "])) == ["duplicate"]
    # the same words for the same intent in another language are fine
    assert data.check_examples("greet", "tr", ["hello"]) == []


def test_replacing_an_example_is_not_a_duplicate_of_itself() -> None:
    data = tiny({"en": {"greet": ["hello there"]}})
    assert data.check_examples("greet", "en", ["Hello There"], replacing="hello there") == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Greet_me", "invalid_name"),
        ("1intent", "invalid_name"),
        ("ask weather", "invalid_name"),
        ("ask_weather\n", "invalid_name"),
        ("faq/a/b", "invalid_name"),
        ("greet", "exists"),
        ("faq", "exists"),
        ("restart", "invalid_name"),
        ("yes", "invalid_name"),
        ("chitchat/weather", "invalid_name"),
        ("faq/new_question", "missing_answer"),
    ],
)
def test_bad_intent_names(data: TrainingData, name: str, kind: str) -> None:
    assert kinds(data.check_intent_name(name)) == [kind]


def test_nlu_fallback_and_payload_only_intents_exist_already(data: TrainingData) -> None:
    assert kinds(data.check_intent_name("skip")) == ["exists"]
    assert kinds(data.check_intent_name("nlu_fallback")) == ["exists"]
    assert data.check_intent_name("ask_weather") == []
    assert data.check_intent_name("faq/new_question", answer_added=True) == []


# --- changes ---------------------------------------------------------------------------------


def test_add_examples_appends_to_the_intent_block_and_nothing_else_changes(
    project: Path, data: TrainingData
) -> None:
    before = snapshot(project)
    last_of_greet = data.examples("greet", "en")[-1]
    texts = ["hi from izmir, ışık", "cześć z Łodzi, żółw", "order [204518](order_number) hi"]
    change = data.add_examples("greet", "en", texts)

    after = snapshot(project)
    assert change.kind == "add_examples"
    assert change.files == (EN,)
    assert [p for p in after if after[p] != before[p]] == [EN]
    (op, old, new), *rest = edits(before[EN], after[EN])
    assert rest == []
    assert (op, old) == ("insert", [])
    assert new == [f"    - {t}" for t in texts]
    lines = after[EN].decode().splitlines()
    at = lines.index("    - hi from izmir, ışık")
    assert lines[at - 1] == f"    - {last_of_greet}"
    assert lines[at + 3] == ""  # the blank line before goodbye is kept

    assert rasa_counts(project / EN)["greet"] == rasa_counts(PROJECT_ROOT / EN)["greet"] + 3
    assert data.examples("greet", "en")[-3:] == texts
    assert change.fingerprint == data_fingerprint(project) == data.fingerprint()


def test_add_examples_in_a_language_the_intent_has_none_in_yet(project: Path) -> None:
    (project / PL).write_text(
        (project / PL).read_text(encoding="utf-8").replace("- intent: deny", "- intent: deny_x"),
        encoding="utf-8",
    )
    data = TrainingData.load(project)
    assert data.examples("deny", "pl") == []
    before = snapshot(project)
    data.add_examples("deny", "pl", ["absolutnie nie, kolego", "źle, że tak"])
    (op, old, new), *rest = edits(before[PL], snapshot(project)[PL])
    assert (op, old, rest) == ("insert", [], [])
    assert new == ["- intent: deny", "  examples: |",
                   "    - absolutnie nie, kolego", "    - źle, że tak"]  # fmt: skip
    assert rasa_counts(project / PL)["deny"] == 2


def test_comments_and_order_survive_changes(project: Path) -> None:
    original = TrainingData.load(project)
    last_greet = original.examples("greet", "en")[-1]
    first_bye, second_bye = original.examples("goodbye", "en")[:2]
    last_stores = original.examples("faq/stores", "en")[-1]
    text = (project / EN).read_text(encoding="utf-8")
    text = text.replace('version: "3.1"\nnlu:\n', 'version: "3.1"  # Rasa 3\nnlu:\n# Greetings\n')
    text = text.replace("\n- intent: goodbye\n", "\n# Leaving\n- intent: goodbye  # farewells\n")
    text = text.replace("\n- intent: faq/stores\n", "\n# Last FAQ\n- intent: faq/stores\n")
    text += "# End of the English data\n"
    (project / EN).write_text(text, encoding="utf-8")
    data = TrainingData.load(project)

    data.add_examples("greet", "en", ["hi with comments"])
    data.add_examples("faq/stores", "en", ["any shop in leeds"])
    data.edit_example("goodbye", "en", first_bye, f"{first_bye} for now, dear köprü")
    data.delete_example("goodbye", "en", second_bye)
    data.add_intent("ask_weather", {"en": ["sunny today?"]})

    after = (project / EN).read_text(encoding="utf-8")
    expected = (
        text.replace(f"    - {last_greet}\n", f"    - {last_greet}\n    - hi with comments\n")
        .replace(f"    - {first_bye}\n", f"    - {first_bye} for now, dear köprü\n")
        .replace(f"    - {second_bye}\n", "")
        .replace(
            f"    - {last_stores}\n",
            f"    - {last_stores}\n    - any shop in leeds\n"
            "\n- intent: ask_weather\n  examples: |\n    - sunny today?\n",
        )
    )
    assert after == expected
    assert rasa_counts(project / EN)["ask_weather"] == 1


def test_a_refused_change_writes_nothing(project: Path, data: TrainingData) -> None:
    before = snapshot(project)
    with pytest.raises(DataError) as refused:
        data.add_examples("greet", "en", ["a new one", "hello", "[x](nope)"])
    assert isinstance(refused.value, KopruError)
    assert kinds(list(refused.value.problems)) == ["duplicate", "unknown_entity"]
    assert "hello" in str(refused.value)
    for call in (
        lambda: data.add_examples("nope", "en", ["hi"]),
        lambda: data.add_examples("greet", "de", ["hallo"]),
        lambda: data.add_examples("greet", "en", []),
        lambda: data.edit_example("greet", "en", "not there", "x"),
        lambda: data.edit_example("greet", "en", "hello", "bye"),
        lambda: data.delete_example("greet", "en", "not there"),
        lambda: data.add_intent("greet", {"en": ["hm"]}),
        lambda: data.add_intent("ask_weather", {"en": []}),
        lambda: data.add_intent("ask_weather", {"en": ["hello"], "tr": ["yağmur"]}),
        lambda: data.add_intent("ask_weather", {"de": ["wetter"]}),
    ):
        with pytest.raises(DataError):
            call()
    assert snapshot(project) == before
    assert not list((project / "data" / "nlu").glob(".*.tmp"))


def test_edit_example_changes_exactly_one_line(project: Path, data: TrainingData) -> None:
    before = snapshot(project)
    old = "has order no. [451207](order_number) been dispatched?"
    new = "has order nr [451207](order_number) shipped yet?"
    change = data.edit_example("order_status", "en", old, new)
    assert change.files == (EN,)
    assert edits(before[EN], snapshot(project)[EN]) == [
        ("replace", [f"    - {old}"], [f"    - {new}"])
    ]
    assert old not in data.examples("order_status", "en")
    assert new in data.examples("order_status", "en")
    assert (
        rasa_counts(project / EN)["order_status"] == rasa_counts(PROJECT_ROOT / EN)["order_status"]
    )


def test_edit_example_to_fix_its_case(project: Path, data: TrainingData) -> None:
    data.edit_example("greet", "tr", "merhaba", "Merhaba")
    assert "Merhaba" in data.examples("greet", "tr")
    assert "merhaba" not in data.examples("greet", "tr")


def test_delete_example_removes_exactly_one_line(project: Path, data: TrainingData) -> None:
    before = snapshot(project)
    change = data.delete_example("goodbye", "tr", "görüşürüz")
    assert change.files == (TR,)
    assert edits(before[TR], snapshot(project)[TR]) == [("delete", ["    - görüşürüz"], [])]
    assert "görüşürüz" not in data.examples("goodbye", "tr")


def test_deleting_the_last_example_of_a_language_removes_the_block(project: Path) -> None:
    data = TrainingData.load(project)
    data.add_intent("ask_weather", {"en": ["what's the weather", "is it raining"],
                                   "tr": ["hava nasıl"]})  # fmt: skip
    with_intent = snapshot(project)
    data.delete_example("ask_weather", "en", "is it raining")
    data.delete_example("ask_weather", "en", "what's the weather")
    after = snapshot(project)
    # en.yml is back to the original, blank lines included
    assert after[EN] == (PROJECT_ROOT / EN).read_bytes()
    assert after[TR] == with_intent[TR]
    assert data.intent("ask_weather") is not None
    with pytest.raises(DataError) as refused:
        data.delete_example("ask_weather", "tr", "hava nasıl")
    assert kinds(list(refused.value.problems)) == ["last_example"]


def test_deleting_a_whole_block_in_the_middle_keeps_the_blank_lines(project: Path) -> None:
    # thank_you shortened to two examples, so that deleting them is quick
    text = (project / EN).read_text(encoding="utf-8")
    start, end = text.index("- intent: thank_you"), text.index("- intent: order_status")
    short = "- intent: thank_you\n  examples: |\n    - thanks a lot\n    - cheers\n\n"
    (project / EN).write_text(text[:start] + short + text[end:], encoding="utf-8")
    data = TrainingData.load(project)
    last_of_deny = data.examples("deny", "en")[-1]
    assert data.examples("thank_you", "en") == ["thanks a lot", "cheers"]
    for example in data.examples("thank_you", "en"):
        data.delete_example("thank_you", "en", example)
    text = (project / EN).read_text(encoding="utf-8")
    assert "- intent: thank_you" not in text
    assert "\n\n\n" not in text
    assert f"    - {last_of_deny}\n\n- intent: order_status\n" in text
    assert rasa_counts(project / EN)["thank_you"] == 0
    assert data.intent("thank_you") is not None  # still in tr and pl


def test_add_intent_appends_blocks_and_registers_it_in_the_domain(
    project: Path, data: TrainingData
) -> None:
    from rasa.shared.core.domain import Domain

    before = snapshot(project)
    change = data.add_intent(
        "ask_weather",
        {"en": ["what's the weather like", "will it rain?"],
         "tr": ["hava nasıl", "yağmur yağıyor mu"], "pl": ["jaka jest pogoda", "czy pada śnieg"]},
    )  # fmt: skip
    after = snapshot(project)
    assert set(change.files) == {EN, TR, PL, DOMAIN}
    assert {p for p in after if after[p] != before[p]} == set(change.files)

    # en.yml separates intents with a blank line, tr.yml and pl.yml do not
    assert edits(before[EN], after[EN]) == [
        ("insert", [], ["", "- intent: ask_weather", "  examples: |",
                        "    - what's the weather like", "    - will it rain?"]),
    ]  # fmt: skip
    assert edits(before[TR], after[TR]) == [
        ("insert", [], ["- intent: ask_weather", "  examples: |",
                        "    - hava nasıl", "    - yağmur yağıyor mu"]),
    ]  # fmt: skip
    assert after[EN].startswith(before[EN]) and after[TR].startswith(before[TR])
    # in the domain, after the last intent with examples, before the payload-only ones
    assert edits(before[DOMAIN], after[DOMAIN]) == [("insert", [], ["  - ask_weather"])]
    domain_lines = after[DOMAIN].decode().splitlines()
    at = domain_lines.index("  - ask_weather")
    assert domain_lines[at - 1 : at + 2] == ["  - inform", "  - ask_weather", "  - nlu_fallback"]

    domain = Domain.load(str(project / DOMAIN))
    assert "ask_weather" in domain.intents
    for relative, count in ((EN, 2), (TR, 2), (PL, 2)):
        assert rasa_counts(project / relative)["ask_weather"] == count
    summary = data.intent("ask_weather")
    assert summary is not None
    assert summary.counts == {"en": 2, "tr": 2, "pl": 2}
    assert summary.thin_languages == ("en", "tr", "pl")


def test_a_new_intent_in_some_languages_only(project: Path, data: TrainingData) -> None:
    before = snapshot(project)
    change = data.add_intent("ask_discount", {"pl": ["czy jest zniżka?"], "en": []})
    assert set(change.files) == {PL, DOMAIN}
    assert snapshot(project)[EN] == before[EN]
    assert data.intent("ask_discount") is not None


def test_changes_start_from_the_files_not_from_an_old_snapshot(project: Path) -> None:
    first, second = TrainingData.load(project), TrainingData.load(project)
    first.add_examples("greet", "en", ["hello from the first admin"])
    second.add_examples("greet", "en", ["hello from the second admin"])
    examples = TrainingData.load(project).examples("greet", "en")
    assert examples[-2:] == ["hello from the first admin", "hello from the second admin"]
    # the stale snapshot is checked against the fresh data too
    with pytest.raises(DataError) as refused:
        TrainingData(project, {}, {}).add_examples("greet", "en", ["Hello from the first admin"])
    assert kinds(list(refused.value.problems)) == ["duplicate"]
    assert second.examples("greet", "en")[-1] == "hello from the second admin"


# --- writing safely --------------------------------------------------------------------------


def test_concurrent_changes_all_land(project: Path) -> None:
    admins = 3
    start = threading.Barrier(admins)
    errors: list[BaseException] = []

    def admin(n: int) -> None:
        data = TrainingData.load(project)  # all load the same data, then save at once
        start.wait()
        try:
            data.add_examples("greet", "tr", [f"merhaba {n}. yönetici"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=admin, args=(n,)) for n in range(admins)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    added = {f"merhaba {n}. yönetici" for n in range(admins)}
    assert added <= set(TrainingData.load(project).examples("greet", "tr"))
    assert rasa_counts(project / TR)["greet"] == rasa_counts(PROJECT_ROOT / TR)["greet"] + admins


def test_a_change_waits_for_another_process_holding_the_lock(project: Path) -> None:
    data = TrainingData.load(project)
    lock_path = project / LOCK_FILE
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    done = threading.Event()
    with lock_path.open("a") as other_process:  # its own open file description, like a process
        fcntl.flock(other_process, fcntl.LOCK_EX)
        worker = threading.Thread(
            target=lambda: (data.add_examples("greet", "en", ["waited for the lock"]), done.set())
        )
        worker.start()
        time.sleep(0.3)
        assert not done.is_set()
        assert "waited for the lock" not in (project / EN).read_text(encoding="utf-8")
        fcntl.flock(other_process, fcntl.LOCK_UN)
    worker.join(timeout=30)
    assert done.is_set()
    assert "waited for the lock" in TrainingData.load(project).examples("greet", "en")


def test_files_are_replaced_with_their_mode_and_no_temporary_files(project: Path) -> None:
    (project / EN).chmod(0o640)
    TrainingData.load(project).add_examples("greet", "en", ["hello mode"])
    assert stat.S_IMODE((project / EN).stat().st_mode) == 0o640
    leftovers = [p.name for p in (project / "data").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_unicode_round_trips(project: Path, data: TrainingData) -> None:
    turkish = ["ığüşöç İĞÜŞÖÇ siparişim nerede", "kargom hâlâ gelmedi"]
    polish = ["gdzie jest moja przesyłka? żółć łódź", "zamówienie [204518](order_number) źle"]
    data.add_examples("order_status", "tr", turkish)
    data.add_examples("order_status", "pl", polish)
    raw = {
        "tr": (project / TR).read_text(encoding="utf-8"),
        "pl": (project / PL).read_text(encoding="utf-8"),
    }
    for text in turkish:
        assert f"    - {text}\n" in raw["tr"]
    for text in polish:
        assert f"    - {text}\n" in raw["pl"]
    fresh = TrainingData.load(project)
    assert fresh.examples("order_status", "tr")[-2:] == turkish
    assert fresh.examples("order_status", "pl")[-2:] == polish
    assert fresh.find("KARGOM  hâlâ GELMEDİ"[:-1] + "I") == [("order_status", "tr")]
    assert fresh.find("GDZIE jest moja przesyłka? ŻÓŁĆ ŁÓDŹ") == [("order_status", "pl")]
