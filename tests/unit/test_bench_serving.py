"""The pure parts of bench.serving: the open-loop schedule, percentiles, answer attribution,
ratios and tables (no servers)."""

from __future__ import annotations

import pytest

from bench.serving import (
    Figures,
    Latency,
    Step,
    Switch,
    attribute_answers,
    comparison_tables,
    cpu_ticks,
    format_ratio,
    format_table,
    open_loop_schedule,
    process_name,
    ratio,
    rest_answer_texts,
    switch_pause,
    telegram_answer_text,
    vm_rss_kib,
)


def test_the_schedule_offers_the_rate_over_conversations_writing_every_think_seconds() -> None:
    plan = open_loop_schedule(rate=20, seconds=10, think=2)
    assert len(plan) == 40  # 20 msg/s, each customer every 2 s
    assert sum(len(dues) for dues in plan) == 200
    assert sorted(due for dues in plan for due in dues) == [i / 20 for i in range(200)]
    assert plan[0][:3] == [0.0, 2.0, 4.0]
    assert plan[39][:2] == [1.95, 3.95]


@pytest.mark.parametrize(
    ("rate", "seconds", "think", "conversations", "messages"),
    [
        (50, 5, 2, 100, 250),
        (3, 1, 2, 3, 3),  # fewer messages than customers: one each
        (2.5, 2, 1, 3, 5),  # ceil(2.5): three customers, one writes twice
        (200, 0.5, 0.1, 20, 100),
        (0, 10, 2, 0, 0),
    ],
)
def test_schedule_sizes(
    rate: float, seconds: float, think: float, conversations: int, messages: int
) -> None:
    plan = open_loop_schedule(rate, seconds, think)
    assert len(plan) == conversations
    assert sum(len(dues) for dues in plan) == messages
    for dues in plan:
        assert dues == sorted(dues) and all(0 <= due < seconds for due in dues)


def test_latency_is_nearest_rank_percentiles_in_milliseconds() -> None:
    seconds = [i / 1000 for i in range(1, 101)]  # 1 ms .. 100 ms
    assert Latency.of(seconds) == Latency(p50_ms=51.0, p95_ms=95.0, p99_ms=99.0)
    assert Latency.of([0.25]) == Latency(250.0, 250.0, 250.0)
    assert Latency.of([]) == Latency(0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("value", "baseline", "expected", "shown"),
    [
        (30.0, 20.0, 1.5, "1.50x"),
        (10.0, 40.0, 0.25, "0.25x"),
        (5.0, 0.0, None, "-"),
        (None, 3.0, None, "-"),
        (3.0, None, None, "-"),
    ],
)
def test_ratio(
    value: float | None, baseline: float | None, expected: float | None, shown: str
) -> None:
    assert ratio(value, baseline) == expected
    assert format_ratio(ratio(value, baseline)) == shown


def test_table_aligns_the_label_left_and_figures_right() -> None:
    table = format_table(
        ["", "msg/s", "p50"], [["REST 20", "19.9", "41"], ["Telegram", "8", "1200"]]
    )
    assert table.splitlines() == [
        "          msg/s   p50",
        "--------  -----  ----",
        "REST 20    19.9    41",
        "Telegram      8  1200",
    ]


def test_answers_belong_to_the_message_whose_window_holds_them() -> None:
    answers = [(1.2, "Hey!"), (2.5, "Did that help?"), (2.4, "[image] x"), (9.0, "late")]
    windows = [(1.0, 1.5), (2.0, 3.0), (4.0, None)]
    found, stray = attribute_answers(answers, windows)
    assert found == [[(1.2, "Hey!")], [(2.4, "[image] x"), (2.5, "Did that help?")], []]
    assert stray == 1  # after the last acknowledged message: no message's answer


def test_an_answer_before_any_message_is_stray() -> None:
    assert attribute_answers([(0.5, "hello?")], [(1.0, 2.0)]) == ([[]], 1)


def test_rest_answers_are_texts_and_images() -> None:
    body = [
        {"recipient_id": "a", "text": "Here is something to cheer you up:"},
        {"recipient_id": "a", "image": "https://i.imgur.com/nGF1K8f.jpg"},
        {"recipient_id": "a", "text": "Did that help you?", "buttons": []},
    ]
    assert rest_answer_texts(body) == [
        "Here is something to cheer you up:",
        "[image] https://i.imgur.com/nGF1K8f.jpg",
        "Did that help you?",
    ]
    assert rest_answer_texts({"error": "no"}) == []
    assert rest_answer_texts([]) == []


def test_telegram_answers_are_what_the_customer_reads() -> None:
    sent = {"chat_id": 1, "text": "Tom &amp; Jerry", "parse_mode": "HTML"}
    assert telegram_answer_text("sendMessage", sent, {"text": "Tom & Jerry"}) == "Tom & Jerry"
    assert telegram_answer_text("sendPhoto", {"photo": "https://x/y.jpg"}, {}) == (
        "[image] https://x/y.jpg"
    )


def test_switch_pause_is_the_longest_latency_and_gap_around_the_switch() -> None:
    exchanges = [
        (0.0, 0.1),  # before the switch: not counted
        (0.1, 0.2),
        (0.2, 3.5),  # waited through the switch (1.0-3.0)
        (3.5, 3.6),
        (3.6, None),  # never answered: counts until the end of the switch... if in flight
    ]
    longest, gap = switch_pause(exchanges, started=1.0, ended=3.0)
    assert longest == pytest.approx(3.3)
    assert gap == pytest.approx(3.3)  # from the answer at 0.2 to the one at 3.5


def test_switch_pause_counts_an_unanswered_message_until_the_switch_ended() -> None:
    longest, gap = switch_pause([(0.0, 0.5), (0.5, None)], started=1.0, ended=4.0)
    assert longest == pytest.approx(3.5)
    assert gap == 0.0


def test_vm_rss_is_read_from_proc_status() -> None:
    status = "Name:\tpython\nVmPeak:\t  900000 kB\nVmRSS:\t  512340 kB\nThreads:\t4\n"
    assert vm_rss_kib(status) == 512340
    assert vm_rss_kib("Name:\tzombie\nState:\tZ (zombie)\n") == 0


def test_cpu_time_is_read_from_proc_stat() -> None:
    # The name may hold spaces and parentheses; utime and stime are fields 14 and 15.
    stat = "4242 (python (x) y) S 1 4242 4242 0 -1 4194560 9 0 0 0 750 125 0 0 20 0 4 0"
    assert cpu_ticks(stat) == 875


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/w/.venv/bin/python", "-m", "bot.cli", "actions", "--port", "5055"], "bot.cli actions"),
        (["/w/.venv/bin/python", "-m", "bot.serving.rasa_server", "run", "--model", "m"],
         "bot.serving.rasa_server"),
        (["/w/.venv/bin/python", "-m", "rasa", "run", "--enable-api"], "rasa run"),
        (["nginx: worker process", ""], "nginx: worker process"),
        ([], "?"),
    ],
)  # fmt: skip
def test_process_names(argv: list[str], name: str) -> None:
    assert process_name(argv) == name


def _step(channel: str, kind: str, offered: float | None, achieved: float, p50: float) -> Step:
    return Step(
        channel=channel, kind=kind, offered=offered, conversations=40, seconds=10.0,
        scheduled=200, sent=200, answered=200, achieved=achieved, latency_from="scheduled",
        p50_ms=p50, p95_ms=p50 * 2, p99_ms=p50 * 3, refused=1, unanswered=0, behind=0, wrong=0,
    )  # fmt: skip


def test_comparison_puts_the_baseline_and_the_ratios_beside_kopru() -> None:
    kopru = Figures("Köprü", "embedded", first_answer_seconds=60.0, rss_idle_mb=1500)
    kopru.steps = [_step("rest", "offered", 20.0, 19.5, 80.0),
                   _step("telegram", "offered", 20.0, 18.0, 400.0)]  # fmt: skip
    kopru.switch = Switch(4.0, 4200, 4100, 12, 0, 0)
    baseline = Figures("rasa init", "rasa run", first_answer_seconds=40.0, rss_idle_mb=1000)
    baseline.steps = [_step("rest", "offered", 20.0, 19.5, 40.0)]
    baseline.switch = Switch(2.0, 2100, 2000, 10, 0, 0)
    loads, single = comparison_tables(kopru, baseline).split("\n\n")
    rest = next(line for line in loads.splitlines() if line.startswith("REST 20 msg/s"))
    assert rest.split()[-3:] == ["1.00x", "2.00x", "2.00x"]
    telegram = next(line for line in loads.splitlines() if line.startswith("Telegram 20"))
    assert "n/a" in telegram and telegram.split()[-3:] == ["-", "-", "-"]
    start = next(line for line in single.splitlines() if line.startswith("start to first"))
    assert start.split()[-3:] == ["60.0", "40.0", "1.50x"]
    assert "server CPU per answered message" in single
    put = next(line for line in single.splitlines() if "PUT /model" in line)
    assert put.split()[-3:] == ["4.0", "2.0", "2.00x"]


def test_comparison_without_a_baseline() -> None:
    kopru = Figures("Köprü", "embedded")
    kopru.steps = [_step("rest", "saturation", None, 12.0, 900.0)]
    loads, single = comparison_tables(kopru, None).split("\n\n")
    assert loads.splitlines()[0].split() == ["Köprü", "msg/s", "p50", "ms", "p95", "p99", "err",
                                             "wrong"]  # fmt: skip
    assert loads.splitlines()[2].split()[-6:] == ["12.0", "900", "1800", "2700", "1", "0"]
    assert "REST saturation (40 conv.)" in loads and "rasa init" not in single


def test_half_the_saturation_is_compared_whatever_rate_each_assistant_reached() -> None:
    kopru = Figures("Köprü", "embedded")
    kopru.steps = [_step("rest", "half saturation", 15.0, 15.0, 60.0)]
    baseline = Figures("rasa init", "rasa run")
    baseline.steps = [_step("rest", "half saturation", 12.0, 12.0, 30.0)]
    assert baseline.step("rest", "half saturation", 15.0) is baseline.steps[0]
    assert baseline.step("rest", "offered", 15.0) is None
    line = next(
        line for line in comparison_tables(kopru, baseline).splitlines() if "half sat." in line
    )
    assert line.startswith("REST 15 msg/s (half sat.)")
    assert line.split()[-3:-1] == ["1.25x", "2.00x"]
