"""`read_body` refuses (400) a Content-Length Sanic would mishandle, before reading anything:
a server started without bot.serving.http_guard still never waits on a negative length."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sanic.compat import Header
from sanic.request import Request

from channels.inbound import BadRequest, read_body


class _Stream:
    """A body stream that fails the test if anything reads it."""

    request_max_size = 0

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> bytes:
        raise AssertionError("the body was read")


def _request(headers: list[tuple[str, str]]) -> Request:
    unused: Any = None  # no transport and no app: nothing is sent or routed
    request = Request(b"/webhooks/rest/webhook", Header(headers), "1.1", "POST", unused, unused)
    request.stream = _Stream()  # type: ignore[assignment]
    return request


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("content-length", "-1")], "Content-Length must be a number"),
        ([("content-length", "abc")], "Content-Length must be a number"),
        ([("content-length", "1_0")], "Content-Length must be a number"),
        ([("content-length", "\u0661\u0662")], "Content-Length must be a number"),
        ([("content-length", "1" * 19)], "Content-Length must be a number"),
        ([("content-length", "5"), ("content-length", "6")], "one Content-Length"),
        ([("content-length", "5"), ("content-length", "5")], "one Content-Length"),
        ([("content-length", "5"), ("transfer-encoding", "chunked")], "not both"),
        ([("transfer-encoding", "gzip")], "must be chunked"),
    ],
)
def test_a_malformed_length_is_refused_before_the_body_is_read(
    headers: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(BadRequest, match=message) as refused:
        asyncio.run(read_body(_request(headers), 1024))
    assert refused.value.status == 400


def test_a_sound_length_over_the_limit_is_still_a_413() -> None:
    request = _request([("content-length", "2048")])
    request.stream = None
    with pytest.raises(BadRequest, match="too large") as refused:
        asyncio.run(read_body(request, 1024))
    assert refused.value.status == 413
