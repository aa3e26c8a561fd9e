"""The streaming multipart/form-data reader: parts and their content whatever the chunking,
and a clear MultipartError for what is not a form upload."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest

from bot.web.multipart import (
    MultipartError,
    MultipartReader,
    Part,
    boundary_of,
    header_params,
)

BOUNDARY = "----kopruBoundary7MA4YWxkTrZu0gW"
FILE = os.urandom(5000) + b"\r\n--" + BOUNDARY[:-1].encode() + b"\r\n" + os.urandom(300)


def body(*parts: tuple[str, str | None, bytes], preamble: bytes = b"", end: bool = True) -> bytes:
    out = preamble
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/gzip\r\n"
        out += b"\r\n" + data + b"\r\n"
    if end:
        out += f"--{BOUNDARY}--\r\n".encode()
    return out


def reader_of(data: bytes, size: int) -> Callable[[], Awaitable[bytes | None]]:
    chunks = [data[i : i + size] for i in range(0, len(data), size)]

    async def read() -> bytes | None:
        return chunks.pop(0) if chunks else None

    return read


async def read_all(data: bytes, size: int) -> list[tuple[Part, bytes]]:
    reader = MultipartReader(BOUNDARY, reader_of(data, size))
    found = []
    while (part := await reader.next_part()) is not None:
        content = b"".join([chunk async for chunk in reader.chunks()])
        found.append((part, content))
    assert len(data) - 2 <= reader.bytes_read <= len(data)  # the epilogue may stay unread
    return found


@pytest.mark.parametrize("size", [1, 2, 3, 7, 41, 42, 43, 64, 1000, 100_000])
async def test_parts_come_out_whole_whatever_the_chunking(size: int) -> None:
    data = body(("csrf", None, b"token-123"), ("model", "model.tar.gz", FILE), ("note", None, b""))
    parts = await read_all(data, size)
    assert [(p.name, p.filename) for p, _ in parts] == [
        ("csrf", None),
        ("model", "model.tar.gz"),
        ("note", None),
    ]
    assert parts[0][1] == b"token-123"
    assert parts[1][1] == FILE
    assert parts[1][0].content_type == "application/gzip"
    assert parts[2][1] == b""


async def test_a_preamble_and_unread_parts_are_skipped() -> None:
    data = body(("a", None, b"x" * 3000), ("b", None, b"yes"), preamble=b"ignore me\r\n")
    reader = MultipartReader(BOUNDARY, reader_of(data, 100))
    first = await reader.next_part()
    assert first is not None and first.name == "a"
    second = await reader.next_part()  # "a" is skipped unread
    assert second is not None and second.name == "b"
    assert await reader.read_field(10) == b"yes"
    assert await reader.next_part() is None
    assert await reader.next_part() is None


async def test_a_long_field_is_refused() -> None:
    reader = MultipartReader(BOUNDARY, reader_of(body(("csrf", None, b"x" * 5000)), 512))
    await reader.next_part()
    with pytest.raises(MultipartError, match="too long"):
        await reader.read_field(1024)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "empty or cut short"),
        (b"no boundary anywhere" * 2000, "does not start with its boundary"),
        (body(("model", "m.tar.gz", FILE), end=False)[:-200], "cut short"),
        (f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--{BOUNDARY}--".encode(), "named"),
        (f"--{BOUNDARY}\r\nno colon here\r\n\r\nx\r\n--{BOUNDARY}--".encode(), "malformed header"),
        (f"--{BOUNDARY}garbage\r\n\r\n".encode(), "malformed"),
        (f"--{BOUNDARY}\r\n".encode() + b"X-Pad: " + b"p" * 20_000, "too large a header"),
    ],
)
async def test_broken_bodies_say_so(data: bytes, said: str) -> None:
    with pytest.raises(MultipartError, match=said):
        await read_all(data, 100)


def test_boundary_of() -> None:
    assert boundary_of(f"multipart/form-data; boundary={BOUNDARY}") == BOUNDARY
    assert boundary_of('Multipart/Form-Data; charset=utf-8; boundary="a b\'c"') == "a b'c"
    wrongs = [
        None,
        "",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "x" * 71,
        'multipart/form-data; boundary=a"b',
        "multipart/mixed; boundary=abc",
    ]
    for wrong in wrongs:
        with pytest.raises(MultipartError):
            boundary_of(wrong)


def test_header_params() -> None:
    assert header_params('form-data; name="model"; filename="a;b.tar.gz"') == (
        "form-data",
        {"name": "model", "filename": "a;b.tar.gz"},
    )
    # Browsers send a backslash as it is: it stays (and the upload refuses the name).
    assert header_params('form-data; name="m"; filename="..\\evil.tar.gz"')[1]["filename"] == (
        "..\\evil.tar.gz"
    )
    assert header_params('form-data; NAME=csrf; filename="say \\"hi\\".tgz"')[1] == {
        "name": "csrf",
        "filename": 'say "hi".tgz',
    }
