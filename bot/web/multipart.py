"""Reading a multipart/form-data body as it arrives, one part at a time: a large file goes
to disk in chunks, and the fields before it (the CSRF token) are checked before it is read.

Sanic parses forms only from a body held in memory; a streaming route (`stream=True`) gets
`request.stream.read()` instead, which is what `MultipartReader` takes.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

__all__ = ["MultipartError", "MultipartReader", "Part", "boundary_of", "header_params"]

MAX_HEADER_BYTES = 16 * 1024
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$")  # RFC 2046's bchars
_TOKEN = re.compile(r"\s*([^\s=;]+)\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"|[^;]*))?\s*(?:;|$)")

Reader = Callable[[], Awaitable[bytes | None]]


class MultipartError(Exception):
    """The body is not the multipart/form-data it claims to be (answered with 400)."""


@dataclass(frozen=True)
class Part:
    """A part's headers: the form field's name and, for a file, the name the browser sent."""

    name: str
    filename: str | None = None
    content_type: str | None = None


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """`form-data; name="model"; filename="a.tar.gz"` -> ("form-data", {...}); parameter
    names in lowercase, quoted values unescaped."""
    head, _, rest = value.partition(";")
    params: dict[str, str] = {}
    position = 0
    while position < len(rest):
        match = _TOKEN.match(rest, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        key, raw = match.group(1).lower(), (match.group(2) or "").strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            # Browsers escape a quote as %22, not with a backslash, and send a backslash
            # as is: only \" is undone, so a name with a backslash keeps it (and is refused).
            raw = raw[1:-1].replace('\\"', '"')
        params[key] = raw
    return head.strip().lower(), params


def boundary_of(content_type: str | None) -> str:
    """The boundary of a multipart/form-data Content-Type (MultipartError otherwise)."""
    kind, params = header_params(content_type or "")
    if kind != "multipart/form-data":
        raise MultipartError("The request must be a form upload (multipart/form-data).")
    boundary = params.get("boundary", "")
    if not _BOUNDARY.match(boundary) or boundary.endswith(" "):
        raise MultipartError("The form upload has no valid boundary.")
    return boundary


class MultipartReader:
    """Parts in order: `await next_part()` (None after the last), then its content with
    `chunks()` or `read_field(limit)`; unread content is skipped by the next `next_part`."""

    def __init__(self, boundary: str, read: Reader) -> None:
        self._read = read
        self._first = b"--" + boundary.encode("latin-1")
        self._delimiter = b"\r\n" + self._first
        self._buffer = bytearray()
        self._eof = False
        self._started = False
        self._in_part = False
        self._finished = False
        self.bytes_read = 0  # of the body, for the caller's own size limit

    async def _fill(self) -> bool:
        """Read more of the body into the buffer; False at its end."""
        if self._eof:
            return False
        data = await self._read()
        if not data:
            self._eof = True
            return False
        self.bytes_read += len(data)
        self._buffer += data
        return True

    async def _start(self) -> None:
        # The body opens with the boundary (a preamble before it is allowed, and ignored).
        while True:
            at = self._buffer.find(self._first)
            if at == 0 or (at > 0 and self._buffer[at - 2 : at] == b"\r\n"):
                del self._buffer[:at]
                self._buffer[:0] = b"\r\n"  # from now on every boundary follows a CRLF
                self._started = True
                return
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise MultipartError("The form upload does not start with its boundary.")
            if not await self._fill():
                raise MultipartError("The form upload is empty or cut short.")

    async def next_part(self) -> Part | None:
        if self._finished:
            return None
        if not self._started:
            await self._start()
        elif self._in_part:
            async for _ in self.chunks():
                pass
        # At a delimiter: "\r\n--boundary", then "--" (the end) or "\r\n" (a part).
        while len(self._buffer) < len(self._delimiter) + 2:
            if not await self._fill():
                raise MultipartError("The form upload is cut short.")
        if not self._buffer.startswith(self._delimiter):
            raise MultipartError("The form upload is malformed.")
        after = bytes(self._buffer[len(self._delimiter) : len(self._delimiter) + 2])
        if after == b"--":
            self._finished = True
            self._buffer.clear()
            return None
        # Transport padding (spaces or tabs) may come before the line break.
        del self._buffer[: len(self._delimiter)]
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise MultipartError("A part of the form upload has too large a header.")
            if not await self._fill():
                raise MultipartError("The form upload is cut short.")
        lines = bytes(self._buffer[:end]).split(b"\r\n")
        del self._buffer[: end + 4]
        if lines[0].strip(b" \t"):
            raise MultipartError("The form upload is malformed.")
        part = _part(lines[1:])
        self._in_part = True
        return part

    async def chunks(self) -> AsyncIterator[bytes]:
        """The current part's content, as it arrives."""
        keep = len(self._delimiter) - 1
        while self._in_part:
            at = self._buffer.find(self._delimiter)
            if at >= 0:
                if at:
                    yield bytes(self._buffer[:at])
                del self._buffer[:at]
                self._in_part = False
                return
            if len(self._buffer) > keep:
                # All but a possible start of the delimiter is content.
                out = bytes(self._buffer[:-keep])
                del self._buffer[:-keep]
                yield out
            if not await self._fill():
                raise MultipartError("The form upload is cut short.")

    async def drain(self, limit: int) -> None:
        """Read and drop the rest of the body while the body stays under `limit` bytes: a
        server that closes a connection with unread data makes the client lose the answer."""
        self._buffer.clear()
        while self.bytes_read <= limit and await self._fill():
            self._buffer.clear()

    async def read_field(self, limit: int) -> bytes:
        """The current part's content, if at most `limit` bytes (MultipartError if more)."""
        value = bytearray()
        async for chunk in self.chunks():
            value += chunk
            if len(value) > limit:
                raise MultipartError("A field of the form upload is too long.")
        return bytes(value)


def _part(lines: list[bytes]) -> Part:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon:
            raise MultipartError("A part of the form upload has a malformed header.")
        headers[name.strip().lower()] = value.strip()
    kind, params = header_params(headers.get("content-disposition", ""))
    if kind != "form-data" or "name" not in params:
        raise MultipartError("A part of the form upload is not a named form field.")
    return Part(
        name=params["name"],
        filename=params.get("filename"),
        content_type=headers.get("content-type"),
    )
