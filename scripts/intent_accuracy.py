"""Cross-validated intent accuracy of Köprü's NLU model, per language and overall.

Every example of data/nlu/<language>.yml is loaded with Rasa's own loader and tagged with
its language (the file stem). The examples are split into stratified k folds, stratified
by (intent, language) so that every fold holds every intent in every language; identical
texts (after case folding, e.g. "hello" in en, tr and pl) are kept in the same fold, so no
held-out text is also a training text. For each fold an NLU-only model is trained in a
temporary directory with Rasa's Python API and the pipeline of config.yml, minus the
ResponseSelector: it only picks the answer after the intent classifier has predicted the
retrieval intent "faq", so it does not change intent accuracy and would only slow the
folds down. Regexes, lookup tables and synonyms (data/nlu/entities.yml) and the entity
annotations go into every training fold.

Every held-out example is parsed by the fold's model. faq/<key> examples are scored on
the base intent "faq". The predicted intent is taken after the FallbackClassifier: a
prediction of nlu_fallback counts as wrong, because the customer then gets the fallback
answer. The accuracy of the top intent before fallback (the best non-fallback intent in
the ranking) and the fallback rate show the effect of the threshold.

Prints a table per language and overall (examples, accuracy, accuracy before fallback,
fallback rate, macro F1), the most frequent confusions and the time per fold and in total,
and writes the same, plus per-intent scores and every misclassified example, as JSON
(results/intent_accuracy.json by default). Exits 0 whenever the report was produced (it
is a report, not a test) and non-zero on errors.

The folds are trained in-process with `--jobs 1`; by default they run in as many worker
processes as there are CPUs (each imports Rasa once), since the logistic regression fit
that dominates a fold uses a single core. The results are the same either way. The run
is quiet (Rasa, TensorFlow and structlog logging, warnings and tqdm are silenced), offline
(no telemetry, nothing downloaded) and leaves the project's .rasa/cache alone.

    .venv/bin/python scripts/intent_accuracy.py [--folds 5] [--seed 42] [--jobs N]
        [--json results/intent_accuracy.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config.yml"
DEFAULT_DATA = ROOT / "data" / "nlu"
DEFAULT_JSON = ROOT / "results" / "intent_accuracy.json"
LANGUAGE_ORDER = ("en", "tr", "pl")
FALLBACK_INTENT = "nlu_fallback"
EXCLUDED_COMPONENTS = ("ResponseSelector",)
EXCLUSION_NOTE = (
    "ResponseSelector is left out of the folds: it only picks the FAQ answer after the "
    "intent classifier has predicted 'faq', so it does not affect intent classification "
    "and would only slow the folds down."
)
TOP_CONFUSIONS = 10
EXAMPLES_PER_CONFUSION = 3


class ReportError(Exception):
    """The report could not be produced (bad data, failed training)."""


@dataclass(frozen=True)
class Example:
    text: str
    intent: str  # base intent: "faq" for faq/<key>
    response_key: str | None  # "faq/<key>" for retrieval intents
    language: str
    message: Any  # rasa.shared.nlu.training_data.message.Message


@dataclass(frozen=True)
class Prediction:
    fold: int
    language: str
    text: str
    gold: str
    predicted: str  # after the FallbackClassifier
    top: str  # best non-fallback intent of the ranking
    confidence: float  # confidence of `top`


@dataclass
class FoldTiming:
    fold: int
    train_examples: int
    test_examples: int
    train_s: float
    parse_s: float


@dataclass
class Dataset:
    examples: list[Example]
    regex_features: list[dict[str, str]] = field(default_factory=list)
    lookup_tables: list[dict[str, Any]] = field(default_factory=list)
    entity_synonyms: dict[str, str] = field(default_factory=dict)


# --- quiet -----------------------------------------------------------------------------


def _silence_environment() -> None:
    """Environment for a quiet, offline run; must happen before Rasa/TF are imported."""
    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    os.environ.setdefault("LOG_LEVEL_LIBRARIES", "ERROR")
    # tqdm >= 4.66 takes its defaults from TQDM_* (the NLU-only pipeline has no bars anyway).
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    # Rasa's training cache would otherwise fill the project's .rasa/cache with fold
    # models it can never reuse (every fold's data is different). Size 0 disables it.
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    _silence_logging()


def _silence_logging() -> None:
    """Drop warnings and log records below ERROR; re-applied after the Rasa imports."""
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    for name in ("rasa", "tensorflow", "absl", "dask", "distributed", "sklearn"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import structlog

        # Rasa logs through structlog too; unconfigured, it prints every debug event.
        structlog.configure(
            wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
            logger_factory=structlog.PrintLoggerFactory(sys.stderr),
            cache_logger_on_first_use=False,
        )
    except ImportError:  # pragma: no cover - structlog comes with Rasa
        pass


@contextlib.contextmanager
def _captured_stdout() -> Iterator[io.StringIO]:
    """Rasa prints its success and error messages to stdout; keep them out of the report."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


# --- data ------------------------------------------------------------------------------


def _language_sort_key(language: str) -> tuple[int, str]:
    order = LANGUAGE_ORDER.index(language) if language in LANGUAGE_ORDER else len(LANGUAGE_ORDER)
    return order, language


def load_dataset(data_dir: Path) -> Dataset:
    """Every NLU file of data_dir: its examples (language = file stem) and its regexes."""
    from rasa.shared.nlu.training_data.loading import load_data

    files = sorted(p for p in data_dir.iterdir() if p.suffix in (".yml", ".yaml"))
    if not files:
        raise ReportError(f"no NLU files in {data_dir}")
    dataset = Dataset(examples=[])
    languages: list[str] = []
    for path in files:
        data = load_data(str(path))
        dataset.regex_features += data.regex_features
        dataset.lookup_tables += data.lookup_tables
        dataset.entity_synonyms.update(data.entity_synonyms)
        if not data.nlu_examples:
            continue
        languages.append(path.stem)
        for message in data.nlu_examples:
            intent = message.get("intent")
            if not intent:
                continue  # entity-only or response examples are not intent examples
            dataset.examples.append(
                Example(
                    text=message.get("text"),
                    intent=intent.split("/", 1)[0],
                    response_key=message.get("intent_response_key"),
                    language=path.stem,
                    message=message,
                )
            )
    if len(languages) < 1 or not dataset.examples:
        raise ReportError(f"no intent examples in {data_dir}")
    dataset.examples.sort(key=lambda e: _language_sort_key(e.language))  # stable
    return dataset


def make_folds(examples: Sequence[Example], folds: int, seed: int) -> tuple[list[int], int]:
    """Fold number of every example, and how many examples moved to join their duplicates.

    StratifiedKFold on (intent, language); then every group of identical texts (case
    folded, across languages) joins the fold of its first member, so that no held-out
    text was seen in training. That moves a handful of examples and keeps the strata.
    """
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{e.intent}|{e.language}" for e in examples]
    counts = Counter(strata)
    too_small = sorted(s for s, n in counts.items() if n < folds)
    if too_small:
        raise ReportError(
            f"{len(too_small)} (intent, language) pairs have fewer than {folds} examples, "
            f"so not every fold can hold them: {', '.join(too_small)}"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_of = [0] * len(examples)
    for number, (_, test) in enumerate(splitter.split(np.zeros(len(strata)), strata)):
        for index in test:
            fold_of[int(index)] = number

    first_fold: dict[str, int] = {}
    moved = 0
    for index, example in enumerate(examples):
        key = " ".join(example.text.casefold().split())
        if key in first_fold:
            if fold_of[index] != first_fold[key]:
                fold_of[index] = first_fold[key]
                moved += 1
        else:
            first_fold[key] = fold_of[index]

    for number in range(folds):
        present = {s for s, f in zip(strata, fold_of, strict=True) if f == number}
        missing = sorted(set(counts) - present)
        if missing:
            raise ReportError(f"fold {number + 1} has no held-out examples of {missing}")
    return fold_of, moved


# --- training and parsing --------------------------------------------------------------


def write_fold_config(config: Path, target: Path) -> tuple[list[str], list[str], float | None]:
    """config.yml without the excluded components and the policies (NLU only).

    Returns the fold pipeline's component names, the removed ones and the fallback
    threshold.
    """
    from rasa.shared.utils.io import read_yaml_file, write_yaml

    content = read_yaml_file(str(config))
    if not isinstance(content, dict) or not content.get("pipeline"):
        raise ReportError(f"{config} has no pipeline")
    pipeline = [c for c in content["pipeline"] if c.get("name") not in EXCLUDED_COMPONENTS]
    removed = [str(c.get("name")) for c in content["pipeline"] if c not in pipeline]
    threshold = next(
        (c.get("threshold", 0.3) for c in pipeline if c.get("name") == "FallbackClassifier"),
        None,
    )
    fold_config = {k: v for k, v in content.items() if k not in ("pipeline", "policies")}
    fold_config["pipeline"] = pipeline
    write_yaml(fold_config, target)
    return [str(c.get("name")) for c in pipeline], removed, threshold


def write_fold_data(dataset: Dataset, train: Sequence[Example], target: Path) -> None:
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = TrainingData(
        training_examples=[e.message for e in train],
        entity_synonyms=dict(dataset.entity_synonyms),
        regex_features=list(dataset.regex_features),
        lookup_tables=list(dataset.lookup_tables),
    )
    target.write_text(data.nlu_as_yaml(), encoding="utf-8")


def train_fold(config: Path, nlu_file: Path, output: Path, name: str) -> Path:
    from rasa.model_training import train_nlu

    with _captured_stdout() as captured:
        model = train_nlu(
            config=str(config),
            nlu_data=str(nlu_file),
            output=str(output),
            fixed_model_name=name,
        )
    if not model or not Path(model).is_file():
        raise ReportError(f"training {name} failed:\n{captured.getvalue()[-4000:]}")
    return Path(model)


def _top_non_fallback(parse: dict[str, Any]) -> tuple[str, float]:
    for entry in parse.get("intent_ranking") or []:
        if entry.get("name") != FALLBACK_INTENT:
            return str(entry["name"]), float(entry.get("confidence") or 0.0)
    intent = parse.get("intent") or {}
    return str(intent.get("name")), float(intent.get("confidence") or 0.0)


async def _parse_all(model: Path, texts: Sequence[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    with _captured_stdout():
        agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


@dataclass(frozen=True)
class FoldTask:
    fold: int  # 1-based
    config: Path
    nlu_file: Path
    output: Path
    texts: tuple[str, ...]  # held-out texts


@dataclass(frozen=True)
class FoldOutcome:
    fold: int
    parses: list[tuple[str, str, float]]  # (predicted, top before fallback, its confidence)
    train_s: float
    parse_s: float


def run_fold(task: FoldTask) -> FoldOutcome:
    """Train the fold's model and parse its held-out texts (in this or a worker process)."""
    started = time.perf_counter()
    model = train_fold(task.config, task.nlu_file, task.output, f"fold{task.fold}")
    trained = time.perf_counter()
    parses = []
    for parse in asyncio.run(_parse_all(model, task.texts)):
        top, confidence = _top_non_fallback(parse)
        predicted = str((parse.get("intent") or {}).get("name"))
        parses.append((predicted, top, round(confidence, 4)))
    return FoldOutcome(task.fold, parses, trained - started, time.perf_counter() - trained)


def _import_rasa() -> None:
    with _captured_stdout():
        import rasa.core.agent
        import rasa.model_training  # noqa: F401
    _silence_logging()  # Rasa and TensorFlow may have reset the filters on import


def _worker_init() -> None:
    _silence_environment()
    _import_rasa()


def run_folds(tasks: Sequence[FoldTask], jobs: int) -> list[FoldOutcome]:
    """Folds one after the other in this process, or in `jobs` worker processes.

    LogisticRegression's lbfgs fit, most of a fold's time, runs on one core, so folds in
    parallel use the second core. Each worker imports Rasa once and trains several folds.
    """
    if jobs <= 1 or len(tasks) <= 1:
        _import_rasa()
        return [run_fold(task) for task in tasks]
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"  # one BLAS thread per worker: no oversubscription
    context = multiprocessing.get_context("spawn")  # fork after TF/dask threads can hang
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(tasks)), mp_context=context, initializer=_worker_init
    ) as pool:
        return list(pool.map(run_fold, tasks))


# --- metrics ---------------------------------------------------------------------------


def metrics(predictions: Sequence[Prediction]) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    gold = [p.gold for p in predictions]
    predicted = [p.predicted for p in predictions]
    labels = sorted(set(gold))  # nlu_fallback is never gold: it lowers recall, not a class
    n = len(predictions)
    return {
        "examples": n,
        "accuracy": sum(p.predicted == p.gold for p in predictions) / n,
        "accuracy_before_fallback": sum(p.top == p.gold for p in predictions) / n,
        "fallback_rate": sum(p.predicted == FALLBACK_INTENT for p in predictions) / n,
        "fallback_on_correct": sum(
            p.predicted == FALLBACK_INTENT and p.top == p.gold for p in predictions
        ),
        "macro_f1": float(
            f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)
        ),
        "macro_f1_before_fallback": float(
            f1_score(
                gold, [p.top for p in predictions], labels=labels, average="macro", zero_division=0
            )
        ),
    }


def per_intent(predictions: Sequence[Prediction]) -> dict[str, dict[str, float]]:
    from sklearn.metrics import precision_recall_fscore_support

    gold = [p.gold for p in predictions]
    labels = sorted(set(gold))
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, [p.predicted for p in predictions], labels=labels, zero_division=0
    )
    return {
        label: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }


def confusions(
    predictions: Sequence[Prediction], *, before_fallback: bool, limit: int
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[Prediction]] = defaultdict(list)
    for p in predictions:
        predicted = p.top if before_fallback else p.predicted
        if predicted != p.gold:
            groups[(p.gold, predicted, p.language)].append(p)
    ranked = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [
        {
            "gold": gold,
            "predicted": predicted,
            "language": language,
            "count": len(items),
            "examples": [p.text for p in items[:EXAMPLES_PER_CONFUSION]],
        }
        for (gold, predicted, language), items in ranked[:limit]
    ]


# --- report ----------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}%"


def _shorten(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render(report: dict[str, Any]) -> str:
    lines = [
        f"Köprü intent accuracy: {report['folds']}-fold cross-validation (seed {report['seed']}),"
        f" {report['overall']['examples']} examples",
        f"Pipeline: {' > '.join(report['pipeline'])}",
        f"Note: {report['note']}" if report["excluded_components"] else None,
        "Accuracy counts nlu_fallback as wrong (the customer gets the fallback answer);"
        f" fallback threshold {report['fallback_threshold']}.",
    ]
    if report["duplicates_moved"]:
        lines.append(
            f"{report['duplicates_moved']} examples whose text also occurs in another"
            " language were moved into the same fold as their twin (no train/test leak)."
        )
    lines += [
        "",
        f"{'language':<9} {'examples':>8} {'accuracy':>9} {'before fb':>10}"
        f" {'fallback':>9} {'macro F1':>9}",
    ]
    rows = [*report["languages"].items(), ("overall", report["overall"])]
    for name, m in rows:
        if name == "overall":
            lines.append("-" * 59)
        lines.append(
            f"{name:<9} {m['examples']:>8} {_pct(m['accuracy']):>9}"
            f" {_pct(m['accuracy_before_fallback']):>10} {_pct(m['fallback_rate']):>9}"
            f" {m['macro_f1']:>9.3f}"
        )

    def confusion_table(title: str, items: list[dict[str, Any]]) -> None:
        lines.extend(["", title])
        if not items:
            lines.append("  (none)")
        for c in items:
            example = _shorten(c["examples"][0])
            lines.append(
                f"  {c['count']:>3}  {c['gold']} -> {c['predicted']} [{c['language']}]"
                f"  e.g. {example!r}"
            )

    confusion_table(
        f"Most frequent confusions (gold -> predicted after fallback, top {TOP_CONFUSIONS}):",
        report["confusions"],
    )
    confusion_table(
        f"Most frequent confusions of the classifier itself (top intent before fallback,"
        f" top {TOP_CONFUSIONS}):",
        report["confusions_before_fallback"],
    )

    timing = report["timing"]
    parallel = f", {report['jobs']} in parallel" if report["jobs"] > 1 else ""
    lines += ["", f"Time per fold (train / parse held-out{parallel}):"]
    for fold in timing["folds"]:
        lines.append(
            f"  fold {fold['fold']}: {fold['train_s']:6.1f} s / {fold['parse_s']:4.1f} s"
            f"  ({fold['train_examples']} train, {fold['test_examples']} held out)"
        )
    lines.append(
        f"Total wall time: {timing['total_s']:.1f} s (training and parsing all folds"
        f" {timing['folds_s']:.1f} s, including loading Rasa)"
    )
    return "\n".join(line for line in lines if line is not None)


def build_report(args: argparse.Namespace, started: float) -> dict[str, Any]:
    import rasa  # light: TensorFlow comes in only with training (in the fold processes)

    dataset = load_dataset(args.data)
    examples = dataset.examples
    fold_of, moved = make_folds(examples, args.folds, args.seed)
    held_out = [
        [e for e, f in zip(examples, fold_of, strict=True) if f == fold]
        for fold in range(args.folds)
    ]

    with tempfile.TemporaryDirectory(prefix="kopru-intent-cv-") as tmp:
        workdir = Path(tmp)
        config = workdir / "config.yml"
        pipeline, removed, threshold = write_fold_config(args.config, config)
        tasks = []
        for fold in range(args.folds):
            train = [e for e, f in zip(examples, fold_of, strict=True) if f != fold]
            fold_dir = workdir / f"fold{fold + 1}"
            fold_dir.mkdir()
            write_fold_data(dataset, train, fold_dir / "nlu.yml")
            texts = tuple(e.text for e in held_out[fold])
            tasks.append(FoldTask(fold + 1, config, fold_dir / "nlu.yml", fold_dir, texts))
        folds_started = time.perf_counter()
        outcomes = run_folds(tasks, args.jobs)
        folds_s = time.perf_counter() - folds_started

    predictions: list[Prediction] = []
    timings: list[FoldTiming] = []
    for outcome, test in zip(outcomes, held_out, strict=True):
        for example, (predicted, top, confidence) in zip(test, outcome.parses, strict=True):
            predictions.append(
                Prediction(
                    fold=outcome.fold,
                    language=example.language,
                    text=example.text,
                    gold=example.intent,
                    predicted=predicted,
                    top=top,
                    confidence=confidence,
                )
            )
        timings.append(
            FoldTiming(
                outcome.fold,
                len(examples) - len(test),
                len(test),
                outcome.train_s,
                outcome.parse_s,
            )
        )

    languages = sorted({p.language for p in predictions}, key=_language_sort_key)
    by_language = {lang: [p for p in predictions if p.language == lang] for lang in languages}
    errors = sorted(
        (p for p in predictions if p.predicted != p.gold),
        key=lambda p: (_language_sort_key(p.language), p.gold, p.predicted, p.text),
    )
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rasa_version": rasa.__version__,
        "config": str(args.config),
        "data": str(args.data),
        "folds": args.folds,
        "seed": args.seed,
        "pipeline": pipeline,
        "excluded_components": removed,
        "note": EXCLUSION_NOTE if removed else "",
        "jobs": min(args.jobs, args.folds),
        "fallback_threshold": threshold,
        "duplicates_moved": moved,
        "languages": {lang: metrics(by_language[lang]) for lang in languages},
        "overall": metrics(predictions),
        "per_intent": {
            **{lang: per_intent(by_language[lang]) for lang in languages},
            "overall": per_intent(predictions),
        },
        "confusions": confusions(predictions, before_fallback=False, limit=TOP_CONFUSIONS),
        "confusions_before_fallback": confusions(
            predictions, before_fallback=True, limit=TOP_CONFUSIONS
        ),
        "errors": [asdict(p) for p in errors],
        "timing": {
            "total_s": round(time.perf_counter() - started, 2),
            "folds_s": round(folds_s, 2),
            "folds": [
                {**asdict(t), "train_s": round(t.train_s, 2), "parse_s": round(t.parse_s, 2)}
                for t in timings
            ],
        },
    }


def _positive_folds(value: str) -> int:
    folds = int(value)
    if folds < 2:
        raise argparse.ArgumentTypeError("needs at least 2 folds")
    return folds


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=_positive_folds, default=5, help="k (default 5)")
    parser.add_argument("--seed", type=int, default=42, help="shuffle seed (default 42)")
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=_available_cpus(),
        help="folds trained in parallel processes (default: the available CPUs; 1 = in-process)",
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="Rasa config")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="NLU data folder")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"JSON output (default {DEFAULT_JSON})"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    _silence_environment()
    try:
        report = build_report(args, started)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except (ReportError, OSError) as error:
        print(f"intent_accuracy: {error}", file=sys.stderr)
        return 1
    print(render(report))
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
