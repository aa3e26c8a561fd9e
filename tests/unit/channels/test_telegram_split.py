"""Splitting long answers for Telegram's 4096-character limit."""

from __future__ import annotations

from channels.telegram import TelegramConfig, split_message


def test_short_text_is_one_part() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == []


def test_split_at_paragraphs_first() -> None:
    first, second = "a" * 3000, "b" * 3000
    assert split_message(f"{first}\n\n{second}") == [first, second]


def test_split_at_sentences_when_there_is_no_paragraph() -> None:
    sentences = " ".join(f"Sentence number {i} is here." for i in range(400))
    parts = split_message(sentences)
    assert all(len(p) <= 4096 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == sentences


def test_an_unbroken_run_is_cut_hard() -> None:
    parts = split_message("x" * 9000)
    assert [len(p) for p in parts] == [4096, 4096, 808]


def test_nothing_is_lost() -> None:
    text = ("Zamówienie dotrze jutro. Dziękujemy!\n" * 300).strip()
    parts = split_message(text)
    assert all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_config_from_environment() -> None:
    off = TelegramConfig.from_env({})
    assert off.token is None and off.mode == "webhook"
    assert off.bot_base_url == "https://api.telegram.org/bot"
    on = TelegramConfig.from_env({"TELEGRAM_TOKEN": "1:A", "TELEGRAM_MODE": "Polling",
                                  "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot"})  # fmt: skip
    assert on.mode == "polling" and on.bot_base_url == "http://127.0.0.1:9/bot"
    import pytest

    with pytest.raises(ValueError, match="TELEGRAM_MODE"):
        TelegramConfig.from_env({"TELEGRAM_MODE": "carrier-pigeon"})


def test_the_bots_sending_rate_is_telegrams_unless_set() -> None:
    import pytest

    assert TelegramConfig.from_env({}).messages_per_second == 30
    paid = TelegramConfig.from_env({"TELEGRAM_MESSAGES_PER_SECOND": "1000"})
    assert paid.messages_per_second == 1000
    for wrong in ("0", "-5", "1001", "fast", "nan"):
        with pytest.raises(ValueError, match="TELEGRAM_MESSAGES_PER_SECOND"):
            TelegramConfig.from_env({"TELEGRAM_MESSAGES_PER_SECOND": wrong})


def test_score_buttons_share_rows_other_buttons_get_one_each() -> None:
    from channels.telegram import keyboard_rows

    scores = [{"title": str(i), "payload": str(i)} for i in range(11)]
    assert [[b["title"] for b in row] for row in keyboard_rows(scores)] == [
        ["0", "1", "2", "3", "4", "5"],
        ["6", "7", "8", "9", "10"],
    ]
    yes_no = [{"title": "Evet", "payload": "/affirm"}, {"title": "Hayır", "payload": "/deny"}]
    assert keyboard_rows(yes_no) == [[yes_no[0]], [yes_no[1]]]
    short = [{"title": "Tak", "payload": "/affirm"}, {"title": "Nie", "payload": "/deny"}]
    assert keyboard_rows(short) == [[short[0]], [short[1]]]
    assert keyboard_rows([]) == []
