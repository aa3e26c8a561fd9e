"""NLU figures: Köprü's shipped pipeline beside Rasa's default one, on public data sets.

    .venv/bin/python -m bench.nlu --quick          # DIET capped at 5 epochs (minutes)
    .venv/bin/python -m bench.nlu                  # Rasa's default 100 epochs (hours)
    .venv/bin/python -m bench.nlu --datasets banking77 --pipelines kopru --json var/nlu.json

For each data set and pipeline, in this one run: an NLU model is trained with Rasa's own
Python API (`rasa.model_training.train_nlu`, training cache off, in a temporary folder),
loaded with `rasa.core.agent.Agent` and asked to parse every test sentence, one at a time,
as the Rasa server would (`Agent.parse_message`). Printed and written as JSON: test
accuracy (a fallback, `nlu_fallback`, counts as wrong), the accuracy of the top intent
before the fallback, macro F1, training time (wall clock of train_nlu), parse latency p50 and p99,
and for CLINC150 the in-scope accuracy and the out-of-scope recall and precision. Ratios
to Rasa's default pipeline stand beside Köprü's figures.

Pipelines:
* `kopru`: the pipeline of the project's config.yml, as shipped;
* `rasa-default`: the pipeline `rasa init` trains (Rasa's default_config.yml: DIET and a
  ResponseSelector over word and character counts), with language `en`. `--quick` caps
  DIET's and the ResponseSelector's epochs at 5 (Rasa's default is 100, about 70 s an
  epoch on Banking77 here); the cap is stated in the output.

Data sets, read in place from ../shared/benchmarks (`--data`), never copied:
* `banking77`: 77 banking intents, 10,003 training and 3,080 test sentences;
* `clinc150`: 150 intents, 15,000 training sentences plus the 100 out-of-scope ones as
  the class `oos`; tested on 4,500 in-scope and 1,000 out-of-scope sentences. A sentence
  counts as out of scope when the prediction is `oos` or `nlu_fallback` (the pipeline's
  FallbackClassifier threshold): an out-of-scope class and a threshold, both fixed before
  the test set is seen. A second line gives the same with the threshold on the best
  intent's confidence chosen on CLINC's validation split (3,000 + 100 sentences; the
  best in-scope accuracy plus out-of-scope recall), never on the test set;
* `xsid-tr`: xSID 0.7 Turkish, 15 intents, trained on its 300 validation sentences and
  tested on its 500 test sentences: a small check that the pipeline works in Turkish.

With `--cv`, Köprü's own cross-validated intent accuracy per language on its shipped data
is added (scripts/intent_accuracy.py, 5 folds).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import importlib.util
import io
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT

__all__ = ["Dataset", "NluFigures", "load_dataset", "out_of_scope_scores", "percentile"]

DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "benchmarks"
DATASETS = ("banking77", "clinc150", "xsid-tr")
PIPELINES = ("kopru", "rasa-default")
QUICK_EPOCHS = 5
OUT_OF_SCOPE = "oos"
FALLBACK = "nlu_fallback"


@dataclass
class Dataset:
    name: str
    train: list[tuple[str, str]]  # (text, intent)
    test: list[tuple[str, str]]
    out_of_scope: bool = False  # intent "oos" marks out-of-scope sentences
    validation: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class NluFigures:
    dataset: str
    pipeline: str
    train_examples: int
    test_examples: int
    intents: int
    train_s: float
    accuracy: float  # a fallback (nlu_fallback) counts as wrong
    top_accuracy: float  # the best intent that is not a fallback
    macro_f1: float
    parse_p50_ms: float
    parse_p99_ms: float
    epochs_note: str = ""
    in_scope_accuracy: float | None = None
    oos_recall: float | None = None
    oos_precision: float | None = None
    # The same, with the out-of-scope threshold chosen on the validation split
    threshold: float | None = None
    threshold_in_scope_accuracy: float | None = None
    threshold_oos_recall: float | None = None
    threshold_oos_precision: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- data -------------------------------------------------------------------------------


def _csv(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def _conll(path: Path) -> list[tuple[str, str]]:
    pairs = []
    text = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# text ="):
            text = line.removeprefix("# text =").strip()
        elif line.startswith("# intent =") and text is not None:
            # "weather/find": a slash would make it a retrieval intent in Rasa
            pairs.append((text, line.removeprefix("# intent =").strip().replace("/", "__")))
            text = None
    return pairs


def load_dataset(name: str, root: Path) -> Dataset:
    """One of DATASETS from its folder under `root`, as the folder's README describes it."""
    if name == "banking77":
        folder = root / "banking77"
        return Dataset(name, _csv(folder / "train.csv"), _csv(folder / "test.csv"))
    if name == "clinc150":
        data = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

        def pairs(key: str, intent: str | None = None) -> list[tuple[str, str]]:
            return [(str(text), intent or str(label)) for text, label in data[key]]

        return Dataset(
            name,
            pairs("train") + pairs("oos_train", OUT_OF_SCOPE),
            pairs("test") + pairs("oos_test", OUT_OF_SCOPE),
            out_of_scope=True,
            validation=pairs("val") + pairs("oos_val", OUT_OF_SCOPE),
        )
    if name.startswith("xsid-"):
        language = name.removeprefix("xsid-")
        folder = root / "xsid"
        return Dataset(
            name,
            _conll(folder / f"xsid-0.7-{language}.valid.conll"),
            _conll(folder / f"xsid-0.7-{language}.test.conll"),
        )
    raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")


# --- scores (pure) ----------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 < fraction <= 1) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered) - 1e-9)))
    return ordered[rank - 1]


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    from sklearn.metrics import f1_score

    labels = sorted(set(gold))
    return float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0))


def out_of_scope_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """CLINC150's measures: accuracy on in-scope sentences (an out-of-scope answer is
    wrong), recall and precision of the out-of-scope decision."""
    rejected = [p in (OUT_OF_SCOPE, FALLBACK) for p in predicted]
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != OUT_OF_SCOPE]
    oos = [r for g, r in zip(gold, rejected, strict=True) if g == OUT_OF_SCOPE]
    flagged = [g == OUT_OF_SCOPE for g, r in zip(gold, rejected, strict=True) if r]
    return {
        "in_scope_accuracy": sum(g == p for g, p in in_scope) / max(len(in_scope), 1),
        "oos_recall": sum(oos) / max(len(oos), 1),
        "oos_precision": sum(flagged) / max(len(flagged), 1),
    }


Parse = tuple[
    str, str, float
]  # (predicted intent, best intent that is not a fallback, its confidence)


def with_threshold(parses: Sequence[Parse], threshold: float) -> list[str]:
    """Predictions when below `threshold` a sentence counts as out of scope."""
    return [OUT_OF_SCOPE if confidence < threshold else top for _, top, confidence in parses]


def choose_threshold(gold: Sequence[str], parses: Sequence[Parse]) -> float:
    """The threshold (0.00-0.99) with the best in-scope accuracy plus out-of-scope recall
    on these (validation) sentences; the lowest of equals."""

    def score(threshold: float) -> float:
        scores = out_of_scope_scores(gold, with_threshold(parses, threshold))
        return scores["in_scope_accuracy"] + scores["oos_recall"]

    return max((t / 100 for t in range(100)), key=lambda t: (score(t), -t))


# --- configs ----------------------------------------------------------------------------


def pipeline_config(pipeline: str, epochs: int | None, language: str) -> dict[str, Any]:
    """The NLU part of a Rasa config: Köprü's config.yml or Rasa's default, epochs capped."""
    from rasa.shared.utils.io import read_yaml_file

    if pipeline == "kopru":
        content = read_yaml_file(str(PROJECT_ROOT / "config.yml"))
    elif pipeline == "rasa-default":
        import rasa.engine.recipes

        default = Path(rasa.engine.recipes.__file__).parent / "config_files/default_config.yml"
        content = read_yaml_file(str(default))
        content["language"] = language
    else:
        raise ValueError(f"unknown pipeline {pipeline!r}; known: {', '.join(PIPELINES)}")
    components = [dict(c) for c in content["pipeline"]]
    if epochs is not None:
        for component in components:
            if "epochs" in component and pipeline == "rasa-default":
                component["epochs"] = min(int(component["epochs"]), epochs)
    return {
        "recipe": "default.v1",
        "language": content.get("language", language),
        "assistant_id": "bench",
        "pipeline": components,
    }


def epochs_note(config: dict[str, Any]) -> str:
    capped = [f"{c['name']} {c['epochs']}" for c in config["pipeline"] if "epochs" in c]
    return ", ".join(capped) + (" epochs" if capped else "")


# --- training and parsing ---------------------------------------------------------------


def _write_data(dataset: Dataset, target: Path) -> None:
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    messages = [Message.build(text=text, intent=intent) for text, intent in dataset.train]
    target.write_text(TrainingData(training_examples=messages).nlu_as_yaml(), encoding="utf-8")


def _read(parse: dict[str, Any]) -> Parse:
    predicted = str((parse.get("intent") or {}).get("name"))
    for entry in parse.get("intent_ranking") or []:
        if entry.get("name") != FALLBACK:
            return predicted, str(entry["name"]), float(entry.get("confidence") or 0.0)
    return predicted, predicted, float((parse.get("intent") or {}).get("confidence") or 0.0)


async def _parse(
    model: Path, texts: Sequence[str], validation: Sequence[str]
) -> tuple[list[Parse], list[float], list[Parse]]:
    """Test parses with their latencies, one at a time; then the validation parses."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    await agent.parse_message(texts[0])  # warm-up
    parses, seconds = [], []
    for text in texts:
        started = time.perf_counter()
        parse = await agent.parse_message(text)
        seconds.append(time.perf_counter() - started)
        parses.append(_read(parse))
    checked = [_read(await agent.parse_message(text)) for text in validation]
    return parses, seconds, checked


def run_one(dataset: Dataset, pipeline: str, epochs: int | None) -> NluFigures:
    from rasa.model_training import train_nlu
    from rasa.shared.utils.io import write_yaml

    language = "tr" if dataset.name.endswith("-tr") else "en"
    config = pipeline_config(pipeline, epochs, language)
    with tempfile.TemporaryDirectory(prefix="kopru-bench-nlu-") as tmp:
        folder = Path(tmp)
        write_yaml(config, folder / "config.yml")
        _write_data(dataset, folder / "nlu.yml")
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()) as said:
            model = train_nlu(str(folder / "config.yml"), str(folder / "nlu.yml"), str(folder))
        train_s = time.perf_counter() - started
        if not model:
            raise RuntimeError(f"training {pipeline} on {dataset.name} failed: {said.getvalue()}")
        texts = [text for text, _ in dataset.test]
        validation = [text for text, _ in dataset.validation]
        parses, seconds, checked = asyncio.run(_parse(Path(model), texts, validation))
    gold = [intent for _, intent in dataset.test]
    predicted = [p for p, _, _ in parses]
    figures = NluFigures(
        dataset=dataset.name,
        pipeline=pipeline,
        train_examples=len(dataset.train),
        test_examples=len(dataset.test),
        intents=len({intent for _, intent in dataset.train}),
        train_s=round(train_s, 1),
        accuracy=sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold),
        top_accuracy=sum(g == top for g, (_, top, _) in zip(gold, parses, strict=True)) / len(gold),
        macro_f1=macro_f1(gold, predicted),
        parse_p50_ms=round(statistics.median(seconds) * 1000, 2),
        parse_p99_ms=round(percentile(seconds, 0.99) * 1000, 2),
        epochs_note=epochs_note(config),
    )
    if dataset.out_of_scope:
        scores = out_of_scope_scores(gold, predicted)
        figures.in_scope_accuracy = scores["in_scope_accuracy"]
        figures.oos_recall = scores["oos_recall"]
        figures.oos_precision = scores["oos_precision"]
        if checked:
            threshold = choose_threshold([i for _, i in dataset.validation], checked)
            scores = out_of_scope_scores(gold, with_threshold(parses, threshold))
            figures.threshold = threshold
            figures.threshold_in_scope_accuracy = scores["in_scope_accuracy"]
            figures.threshold_oos_recall = scores["oos_recall"]
            figures.threshold_oos_precision = scores["oos_precision"]
    return figures


def _intent_accuracy() -> Any:
    """scripts/intent_accuracy.py as a module (scripts/ is not a package)."""
    path = PROJECT_ROOT / "scripts" / "intent_accuracy.py"
    spec = importlib.util.spec_from_file_location("kopru_intent_accuracy", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cross_validation() -> dict[str, Any]:
    """scripts/intent_accuracy.py on the shipped data and config, in a child process."""
    with tempfile.TemporaryDirectory(prefix="kopru-bench-cv-") as tmp:
        target = Path(tmp) / "cv.json"
        subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, str(PROJECT_ROOT / "scripts" / "intent_accuracy.py"),
             "--json", str(target)],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        result: dict[str, Any] = json.loads(target.read_text(encoding="utf-8"))
        return result


# --- report -----------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _ratio(value: float, baseline: float | None) -> str:
    if baseline is None or baseline == 0:
        return ""
    return f" ({value / baseline:.2f}x)"


def table(results: Sequence[NluFigures]) -> str:
    baselines = {r.dataset: r for r in results if r.pipeline == "rasa-default"}
    lines = [
        "| data set | pipeline | accuracy | top intent | macro F1 | in-scope acc. | OOS recall | "
        "OOS precision | training | parse p50 | parse p99 | epochs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        base = baselines.get(r.dataset) if r.pipeline != "rasa-default" else None
        lines.append(
            f"| {r.dataset} | {r.pipeline} | {_pct(r.accuracy)} | {_pct(r.top_accuracy)} | "
            f"{r.macro_f1 * 100:.1f} | "
            f"{_pct(r.in_scope_accuracy)} | {_pct(r.oos_recall)} | {_pct(r.oos_precision)} | "
            f"{r.train_s:.0f} s{_ratio(r.train_s, base.train_s if base else None)} | "
            f"{r.parse_p50_ms:.1f} ms"
            f"{_ratio(r.parse_p50_ms, base.parse_p50_ms if base else None)} | "
            f"{r.parse_p99_ms:.1f} ms | {r.epochs_note or '-'} |"
        )
        if r.threshold is not None:
            lines.append(
                f"| {r.dataset} | {r.pipeline}, threshold {r.threshold:.2f} from validation | "
                f"| | | {_pct(r.threshold_in_scope_accuracy)} | {_pct(r.threshold_oos_recall)} | "
                f"{_pct(r.threshold_oos_precision)} | | | | |"
            )
    return "\n".join(lines)


def cv_table(cv: dict[str, Any]) -> str:
    lines = [
        "| language | examples | accuracy | macro F1 | fallback rate |",
        "|---|---|---|---|---|",
    ]
    rows = cv.get("languages") or cv.get("per_language") or {}
    overall = cv.get("overall")
    items = list(rows.items()) if isinstance(rows, dict) else [(r.get("language"), r) for r in rows]
    if overall:
        items.append(("all", overall))
    for language, row in items:
        lines.append(
            f"| {language} | {row.get('examples', '-')} | {_pct(row.get('accuracy'))} | "
            f"{(row.get('macro_f1') or 0) * 100:.1f} | {_pct(row.get('fallback_rate'))} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"cap DIET at {QUICK_EPOCHS} epochs")
    parser.add_argument("--epochs", type=int, default=None, help="cap DIET at N epochs")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--pipelines", default=",".join(PIPELINES))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--cv", action="store_true", help="add the per-language CV")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        parser.error(f"{args.data} is not a folder (the benchmark data sets: --data)")
    epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else None)

    quiet = _intent_accuracy()
    quiet._silence_environment()  # offline, no telemetry, no training cache (timed honestly)
    quiet._import_rasa()
    results: list[NluFigures] = []
    for name in args.datasets.split(","):
        dataset = load_dataset(name, args.data)
        for pipeline in args.pipelines.split(","):
            print(f"... {name} / {pipeline}", file=sys.stderr, flush=True)
            results.append(run_one(dataset, pipeline, epochs))
            print(table(results[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(results))
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "epochs_cap": epochs,
        "results": [asdict(r) for r in results],
    }
    if args.cv:
        report["cross_validation"] = cross_validation()
        print()
        print(cv_table(report["cross_validation"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
