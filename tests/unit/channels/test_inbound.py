"""channels/inbound.py: the pure checks every customer-facing channel applies."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from channels.inbound import (
    MAX_MESSAGE_CHARS,
    MAX_SENDER_CHARS,
    BadRequest,
    clean_text,
    inbound_message,
    parse_json_object,
    require_json,
)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON ; x=y"],
)
def test_json_content_types_pass(content_type: str) -> None:
    require_json(content_type)


@pytest.mark.parametrize(
    "content_type",
    [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
     "application/jsonp", "text/json"],
)  # fmt: skip
def test_other_content_types_are_415(content_type: str | None) -> None:
    with pytest.raises(BadRequest) as refused:
        require_json(content_type)
    assert refused.value.status == 415
    assert "application/json" in refused.value.message


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"message": "\xff\xfe"}', "UTF-8"),
        (b'{"message": "caf\xe9"}', "UTF-8"),  # Latin-1, not UTF-8
        (b'{"sender": "s", "message": "hi"', "not valid JSON"),
        (b"{not json}", "not valid JSON"),
        (b"sender=s&message=hi", "not valid JSON"),
        ("\ufeff{}".encode(), "not valid JSON"),  # a byte order mark
        (b'{"x": NaN}', "not valid JSON"),
        (b'{"x": Infinity}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # recursion
        (b'{"x": ' + b"1" * 5000 + b"}", "not valid JSON"),  # int() digit limit
        (b"[]", "JSON object"),
        (b'"hi"', "JSON object"),
        (b"42", "JSON object"),
        (b"null", "JSON object"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_400(body: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_json_object(body)
    assert refused.value.status == 400
    assert fragment in refused.value.message


def test_a_json_object_parses() -> None:
    body = json.dumps({"sender": "ayşe", "message": "Dzień dobry 👋"}).encode()
    assert parse_json_object(body) == {"sender": "ayşe", "message": "Dzień dobry 👋"}


@pytest.mark.parametrize(
    ("text", "cleaned"),
    [
        ("hello", "hello"),
        ("  hello \n", "hello"),
        ("hel\x00lo", "hello"),
        ("\x07bell\x1b[31m red", "bell[31m red"),
        ("line one\r\nline two\rthree", "line one\nline two\nthree"),
        ("tab\tstays", "tab\tstays"),
        ("c1\x85\x9fgone", "c1gone"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("emoji 👍🏽 and ZWJ 👩‍💻 stay", "emoji 👍🏽 and ZWJ 👩‍💻 stay"),
        ("\x00\x01\x02", ""),
    ],
)
def test_clean_text(text: str, cleaned: str) -> None:
    assert clean_text(text) == cleaned


def _fields(**fields: Any) -> dict[str, Any]:
    return fields


BAD_FIELDS: dict[str, tuple[dict[str, Any], str]] = {
    "missing sender": (_fields(message="hi"), "'sender' is missing"),
    "null sender": (_fields(sender=None, message="hi"), "'sender' is missing"),
    "numeric sender": (_fields(sender=42, message="hi"), "'sender' must be a string"),
    "list sender": (_fields(sender=["a"], message="hi"), "'sender' must be a string"),
    "empty sender": (_fields(sender="", message="hi"), "'sender' must not be empty"),
    "blank sender": (_fields(sender="  ", message="hi"), "'sender' must not be empty"),
    "sender too long": (
        _fields(sender="x" * (MAX_SENDER_CHARS + 1), message="hi"),
        "'sender' is too long",
    ),
    "sender with NUL": (_fields(sender="a\x00b", message="hi"), "control characters"),
    "sender with newline": (_fields(sender="a\nb", message="hi"), "control characters"),
    "missing message": (_fields(sender="s"), "'message' is missing"),
    "null message": (_fields(sender="s", message=None), "'message' is missing"),
    "numeric message": (_fields(sender="s", message=5), "'message' must be a string"),
    "object message": (_fields(sender="s", message={"t": 1}), "'message' must be a string"),
    "empty message": (_fields(sender="s", message=""), "'message' must not be empty"),
    "blank message": (_fields(sender="s", message=" \n\t"), "'message' must not be empty"),
    "control-only message": (_fields(sender="s", message="\x00\x08"), "must not be empty"),
    "metadata list": (_fields(sender="s", message="hi", metadata=[1]), "'metadata'"),
    "metadata string": (_fields(sender="s", message="hi", metadata="x"), "'metadata'"),
}


@pytest.mark.parametrize(("data", "fragment"), BAD_FIELDS.values(), ids=BAD_FIELDS)
def test_bad_fields_are_400_with_a_clear_message(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(BadRequest) as refused:
        inbound_message(data)
    assert refused.value.status == 400
    assert fragment in refused.value.message


def test_a_good_message() -> None:
    inbound = inbound_message(
        {"sender": "ayşe 1", "message": " merhaba\x00 ", "metadata": {"language": "tr"}}
    )
    assert (inbound.sender, inbound.text, inbound.metadata) == (
        "ayşe 1", "merhaba", {"language": "tr"},
    )  # fmt: skip
    assert not inbound.too_long


def test_length_is_counted_after_cleaning() -> None:
    assert not inbound_message({"sender": "s", "message": "a" * MAX_MESSAGE_CHARS}).too_long
    assert not inbound_message(
        {"sender": "s", "message": "  " + "ğ" * MAX_MESSAGE_CHARS + "\x00\n"}
    ).too_long
    assert inbound_message({"sender": "s", "message": "a" * (MAX_MESSAGE_CHARS + 1)}).too_long


def test_a_sender_pattern_narrows_the_sender() -> None:
    pattern = re.compile(r"[a-z]+")
    assert inbound_message({"sender": "abc", "message": "hi"}, pattern).sender == "abc"
    with pytest.raises(BadRequest):
        inbound_message({"sender": "ab1", "message": "hi"}, pattern)
