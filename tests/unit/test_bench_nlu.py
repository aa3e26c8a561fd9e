"""The pure parts of bench.nlu: data loading, scores, thresholds, configs, tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.nlu import (
    NluFigures,
    choose_threshold,
    load_dataset,
    out_of_scope_scores,
    percentile,
    pipeline_config,
    table,
    with_threshold,
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0


def test_out_of_scope_scores_count_fallbacks_as_rejections() -> None:
    gold = ["a", "b", "oos", "oos"]
    predicted = ["a", "nlu_fallback", "oos", "a"]
    scores = out_of_scope_scores(gold, predicted)
    assert scores["in_scope_accuracy"] == 0.5  # "b" was rejected: wrong
    assert scores["oos_recall"] == 0.5
    assert scores["oos_precision"] == 0.5  # two rejections, one right


def test_a_threshold_turns_unsure_predictions_into_out_of_scope() -> None:
    parses = [("a", "a", 0.9), ("nlu_fallback", "b", 0.2), ("a", "a", 0.4)]
    assert with_threshold(parses, 0.5) == ["a", "oos", "oos"]
    assert with_threshold(parses, 0.0) == ["a", "b", "a"]


def test_the_chosen_threshold_separates_the_validation_sentences() -> None:
    gold = ["a", "b", "oos", "oos"]
    parses = [("a", "a", 0.9), ("b", "b", 0.7), ("a", "a", 0.3), ("b", "b", 0.1)]
    threshold = choose_threshold(gold, parses)
    assert 0.3 < threshold <= 0.7
    assert with_threshold(parses, threshold) == ["a", "b", "oos", "oos"]


def test_data_sets_are_read_as_their_folders_describe_them(tmp_path: Path) -> None:
    (tmp_path / "banking77").mkdir()
    (tmp_path / "banking77" / "train.csv").write_text('text,category\n"hi, there",greet\n')
    (tmp_path / "banking77" / "test.csv").write_text("text,category\nhello,greet\n")
    banking = load_dataset("banking77", tmp_path)
    assert banking.train == [("hi, there", "greet")] and banking.test == [("hello", "greet")]
    (tmp_path / "clinc150").mkdir()
    data = {
        **{"train": [["t", "x"]], "val": [["v", "x"]], "test": [["s", "x"]]},
        **{"oos_train": [["o", "oos"]], "oos_val": [["ov", "oos"]], "oos_test": [["s", "oos"]]},
    }
    (tmp_path / "clinc150" / "data_full.json").write_text(json.dumps(data))
    clinc = load_dataset("clinc150", tmp_path)
    assert clinc.out_of_scope
    assert clinc.train == [("t", "x"), ("o", "oos")]
    assert clinc.validation == [("v", "x"), ("ov", "oos")]
    (tmp_path / "xsid").mkdir()
    conll = "# id = 1\n# text-en = x\n# text = Yarın yağmur?\n# intent = weather/find\n1\tx\n\n"
    for split in ("valid", "test"):
        (tmp_path / "xsid" / f"xsid-0.7-tr.{split}.conll").write_text(conll)
    xsid = load_dataset("xsid-tr", tmp_path)
    assert xsid.train == [("Yarın yağmur?", "weather__find")]  # no "/": not a retrieval intent
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("imdb", tmp_path)


def test_the_epoch_cap_applies_to_rasas_default_only() -> None:
    default = pipeline_config("rasa-default", 5, "en")
    assert {c["name"]: c.get("epochs") for c in default["pipeline"]}["DIETClassifier"] == 5
    kopru = pipeline_config("kopru", 5, "en")
    assert kopru["language"] == "xx"
    assert any(c["name"] == "bot.nlu.classifier.KopruIntentClassifier" for c in kopru["pipeline"])


def test_the_table_puts_ratios_beside_koprus_figures() -> None:
    def figures(pipeline: str, train_s: float, p50: float) -> NluFigures:
        return NluFigures("banking77", pipeline, 10, 5, 2, train_s, 0.9, 0.95, 0.8, p50, p50 * 2)

    text = table([figures("kopru", 60, 2), figures("rasa-default", 300, 20)])
    assert "60 s (0.20x)" in text and "2.0 ms (0.10x)" in text
