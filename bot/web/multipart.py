"""Reading a multipart/form-data body as it arrives, one part at a time: a large file goes
to disk in chunks, and the fields before it (the CSRF token) are checked before it is read.

Sanic parses forms only from a body held in memory; a streaming route (`stream=True`) gets
`request.stream.read()` instead, which is what `MultipartReader` takes. The parsing itself is
python-multipart's streaming `MultipartParser`; this module turns its callbacks into parts
one pulls, and its errors into `MultipartError`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser

from bot.errors import KopruError

__all__ = ["MultipartError", "MultipartReader", "Part", "boundary_of", "header_params"]

MAX_HEADER_BYTES = 16 * 1024
_BOUNDARY = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$")  # RFC 2046's bchars
_TOKEN = re.compile(r"\s*([^\s=;]+)\s*(?:=\s*(\"(?:[^\"\\]|\\.)*\"|[^;]*))?\s*(?:;|$)")

Reader = Callable[[], Awaitable[bytes | None]]
# What the parser found, in order: a part's start (its Part), content, a part's end, the end.
_PART, _DATA, _PART_END, _END = "part", "data", "part end", "end"
_HEADER_OVERHEAD = 4  # ": " and CRLF, counted towards MAX_HEADER_BYTES per header line


class MultipartError(KopruError):
    """The body is not the multipart/form-data it claims to be (answered with 400)."""


@dataclass(frozen=True)
class Part:
    """A part's headers: the form field's name and, for a file, the name the browser sent."""

    name: str
    filename: str | None = None
    content_type: str | None = None


_Event = tuple[str, Part | bytes | None]


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
    `chunks()` or `read_field(limit)`; unread content is skipped by the next `next_part`.

    The body is fed to python-multipart's push parser one read at a time, and only when
    what it found so far has been taken: memory stays at about one read's worth."""

    def __init__(self, boundary: str, read: Reader) -> None:
        self._read = read
        self._first = b"--" + boundary.encode("latin-1")
        self._parser = MultipartParser(
            boundary.encode("latin-1"),
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
            # Our own limit is on a part's whole header (below); these never bind first.
            max_header_count=MAX_HEADER_BYTES // _HEADER_OVERHEAD + 1,
            max_header_size=MAX_HEADER_BYTES,
        )
        self._events: deque[_Event] = deque()
        self._preamble: bytearray | None = bytearray()  # None once the first boundary is found
        self._headers: list[tuple[str, str]] = []
        self._field = bytearray()
        self._value = bytearray()
        self._header_bytes = 0
        self._eof = False
        self._in_part = False
        self._finished = False
        self.bytes_read = 0  # of the body, for the caller's own size limit

    # --- the parser's callbacks (they only collect) -------------------------------------

    def _on_part_begin(self) -> None:
        self._headers = []
        self._header_bytes = 0

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            raise MultipartError("A part of the form upload has too large a header.")

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self._count_header(_HEADER_OVERHEAD)
        name, value = (bytes(b).decode("utf-8", "replace") for b in (self._field, self._value))
        self._headers.append((name.strip().lower(), value.strip()))
        self._field.clear()
        self._value.clear()

    def _on_headers_finished(self) -> None:
        self._events.append((_PART, _part(self._headers)))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._events.append((_DATA, data[start:end]))

    def _on_part_end(self) -> None:
        self._events.append((_PART_END, None))

    def _on_end(self) -> None:
        self._events.append((_END, None))

    # --- reading --------------------------------------------------------------------------

    async def _fill(self) -> bool:
        """Read more of the body and parse it; False at its end."""
        if self._eof:
            return False
        data = await self._read()
        if not data:
            self._eof = True
            return False
        self.bytes_read += len(data)
        if self._preamble is not None:
            data = self._after_preamble(data)
        if data:
            try:
                self._parser.write(data)
            except MultipartParseError as exc:
                raise _parse_error(exc) from exc
        return True

    def _after_preamble(self, data: bytes) -> bytes:
        """What follows the preamble, from the first boundary on (b"" while not found): the
        body opens with the boundary, and a preamble before it is allowed and ignored."""
        assert self._preamble is not None
        self._preamble += data
        if self._preamble.startswith(self._first):
            at = 0
        else:
            at = self._preamble.find(b"\r\n" + self._first)
            if at < 0:
                if len(self._preamble) > MAX_HEADER_BYTES:
                    raise MultipartError("The form upload does not start with its boundary.")
                return b""
            at += 2
        rest = bytes(self._preamble[at:])
        self._preamble = None
        return rest

    async def _next_event(self) -> _Event:
        while not self._events:
            if not await self._fill():
                if self._preamble is not None:
                    raise MultipartError("The form upload is empty or cut short.")
                raise MultipartError("The form upload is cut short.")
        return self._events.popleft()

    async def next_part(self) -> Part | None:
        if self._finished:
            return None
        if self._in_part:
            async for _ in self.chunks():
                pass
        kind, value = await self._next_event()
        if kind == _END:
            self._finished = True
            self._events.clear()
            return None
        if not isinstance(value, Part):  # the parser ends a part only after its start
            raise MultipartError("The form upload is malformed.")
        self._in_part = True
        return value

    async def chunks(self) -> AsyncIterator[bytes]:
        """The current part's content, as it arrives."""
        while self._in_part:
            kind, value = await self._next_event()
            if kind == _PART_END:
                self._in_part = False
            elif isinstance(value, bytes) and value:
                yield value

    async def drain(self, limit: int) -> None:
        """Read and drop the rest of the body while the body stays under `limit` bytes: a
        server that closes a connection with unread data makes the client lose the answer."""
        self._events.clear()
        while self.bytes_read <= limit and not self._eof:
            data = await self._read()
            if not data:
                self._eof = True
            else:
                self.bytes_read += len(data)

    async def read_field(self, limit: int) -> bytes:
        """The current part's content, if at most `limit` bytes (MultipartError if more)."""
        value = bytearray()
        async for chunk in self.chunks():
            value += chunk
            if len(value) > limit:
                raise MultipartError("A field of the form upload is too long.")
        return bytes(value)


def _parse_error(exc: MultipartParseError) -> MultipartError:
    """The parser's complaint in the words of this module."""
    said = str(exc)
    if said.startswith("Maximum header"):
        return MultipartError("A part of the form upload has too large a header.")
    if "header" in said:
        return MultipartError("A part of the form upload has a malformed header.")
    return MultipartError("The form upload is malformed.")


def _part(headers: list[tuple[str, str]]) -> Part:
    fields = dict(headers)
    kind, params = header_params(fields.get("content-disposition", ""))
    if kind != "form-data" or "name" not in params:
        raise MultipartError("A part of the form upload is not a named form field.")
    return Part(
        name=params["name"],
        filename=params.get("filename"),
        content_type=fields.get("content-type"),
    )
