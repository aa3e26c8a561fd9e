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


# --- hostile bodies ----------------------------------------------------------------------------

READ_SIZE = 64 * 1024  # about what Sanic hands a streaming handler per read


def counting_reader(
    data: bytes, size: int = READ_SIZE
) -> tuple[Callable[[], Awaitable[bytes | None]], list[int]]:
    """A reader of `data` that also notes the size of every read it served."""
    served: list[int] = []
    read = reader_of(data, size)

    async def counted() -> bytes | None:
        chunk = await read()
        if chunk:
            served.append(len(chunk))
        return chunk

    return counted, served


async def test_a_body_with_another_boundary_is_refused() -> None:
    other = body(("csrf", None, b"t")).replace(BOUNDARY.encode(), b"someOtherBoundary")
    with pytest.raises(MultipartError, match="empty or cut short"):
        await read_all(other, 100)
    with pytest.raises(MultipartError, match="does not start with its boundary"):
        await read_all(other * 200, 1000)


async def test_a_delimiter_inside_a_file_ends_it_and_what_follows_must_be_a_part() -> None:
    smuggled = b"MZ\r\n--" + BOUNDARY.encode() + b"\r\n\x00\x01 binary, no header\r\n\r\nx"
    with pytest.raises(MultipartError, match="malformed header"):
        await read_all(body(("csrf", None, b"t"), ("model", "m.tar.gz", smuggled)), 1000)
    # The boundary not followed by a line break (or "--") is content, like any other bytes.
    lookalike = b"a\r\n--" + BOUNDARY.encode() + b"x tail\r\n--" + BOUNDARY.encode() + b"-y"
    parts = await read_all(body(("model", "m.tar.gz", lookalike)), 7)
    assert [content for _, content in parts] == [lookalike]


async def test_a_huge_field_is_refused_without_reading_the_body() -> None:
    data = body(("csrf", None, b"x" * 10_000_000), ("model", "m.tar.gz", b"y"))
    read, served = counting_reader(data)
    reader = MultipartReader(BOUNDARY, read)
    assert (await reader.next_part()) == Part("csrf")
    with pytest.raises(MultipartError, match="too long"):
        await reader.read_field(1024)
    assert reader.bytes_read == sum(served) <= 2 * READ_SIZE


async def test_a_huge_file_comes_in_pieces_no_larger_than_the_reads() -> None:
    content = os.urandom(3 * 1024 * 1024)
    read, served = counting_reader(body(("model", "m.tar.gz", content)))
    reader = MultipartReader(BOUNDARY, read)
    assert (await reader.next_part()) == Part("model", "m.tar.gz", "application/gzip")
    pieces = [piece async for piece in reader.chunks()]
    assert b"".join(pieces) == content
    assert max(len(piece) for piece in pieces) <= READ_SIZE
    assert len(served) > 40  # streamed, not read in one go


async def test_a_file_before_the_csrf_field_is_seen_before_it_is_read() -> None:
    data = body(("model", "m.tar.gz", os.urandom(2_000_000)), ("csrf", None, b"token"))
    read, served = counting_reader(data)
    reader = MultipartReader(BOUNDARY, read)
    first = await reader.next_part()
    # The caller (the upload route) refuses here: only the first read of 2 MB has happened.
    assert first is not None and (first.name, first.filename) == ("model", "m.tar.gz")
    assert reader.bytes_read == served[0] == READ_SIZE


@pytest.mark.parametrize(
    "cut",
    [
        len(f"--{BOUNDARY}"),  # in the first delimiter line
        len(f"--{BOUNDARY}\r\nContent-Disp"),  # in a header
        len(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf"\r\n'),  # before CRLF
        300,  # in the file
        -len(f"\r\n--{BOUNDARY}--\r\n") + 1,  # in the last delimiter
        -len(f"--{BOUNDARY}--\r\n"),  # after the file's line break
        -4,  # "--" of the end, half
    ],
)
async def test_a_truncated_body_is_cut_short(cut: int) -> None:
    data = body(("csrf", None, b"token"), ("model", "m.tar.gz", os.urandom(1000)))
    with pytest.raises(MultipartError, match="cut short"):
        await read_all(data[:cut], 13)


async def test_many_parts_are_read_one_by_one() -> None:
    data = body(*[(f"f{i}", None, str(i).encode()) for i in range(5000)])
    reader = MultipartReader(BOUNDARY, reader_of(data, READ_SIZE))
    count = 0
    while (part := await reader.next_part()) is not None:
        assert (part.name, await reader.read_field(10)) == (f"f{count}", str(count).encode())
        count += 1
    assert count == 5000
    assert reader.bytes_read == len(data)


async def test_many_headers_in_one_part_are_too_large_a_header() -> None:
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(3000))
    data = f"--{BOUNDARY}\r\n".encode() + headers + b"\r\nx\r\n" + f"--{BOUNDARY}--".encode()
    with pytest.raises(MultipartError, match="too large a header"):
        await read_all(data, 1000)
