"""Uploading a model on the admin Training page, over HTTP against the real app on 127.0.0.1
(set up as in test_web_admin): a good archive is stored under a name of its own, listed and
activated with the usual switch; every bad case gets its 4xx with a reason, and nothing is
written to the models directory."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.authoring.model_archive import MAX_UPLOAD_ENV
from bot.settings import PROJECT_ROOT
from tests.unit.bot.test_model_archive import entry, model_entries, write_tar
from tests.unit.bot.test_web_admin import (  # noqa: F401 - fixtures
    VIEWER_PASSWORD,
    FakeRasa,
    Served,
    fake_rasa,
    form_csrf,
    sanic_test_mode,
    served,
    settings,
    sign_in,
    text_of,
)

UPLOAD = "/admin/training/upload"
BOUNDARY = "kopru-upload-boundary-42"
LIMIT_MB = "0.05"  # 50 KB in these tests (the default is 200 MB)
LIMIT = 50_000


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the project's data, as in test_web_admin (the admin pages edit it)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    for name in ("domain.yml", "config.yml", "kopru.yml", "endpoints.yml"):
        shutil.copy2(PROJECT_ROOT / name, root / name)
    return root


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with fake_rasa(None) as state:
        yield state


@pytest.fixture
async def site(
    tmp_path: Path, project: Path, rasa: FakeRasa, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Served]:
    monkeypatch.setenv(MAX_UPLOAD_ENV, LIMIT_MB)
    async with served(settings(tmp_path, project, rasa.url)) as s:
        yield s


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "models"


def stored(models: Path) -> list[str]:
    """Everything in the models directory, hidden files included."""
    return sorted(p.name for p in models.iterdir()) if models.exists() else []


def form(*parts: tuple[str, str | None, bytes]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body with the parts in this order (as a browser sends a form)."""
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/gzip\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def archive_bytes(tmp_path: Path, entries: list[Any] | None = None) -> bytes:
    return write_tar(tmp_path / "built.tar.gz", entries or model_entries()).read_bytes()


async def upload(
    site: Served, *parts: tuple[str, str | None, bytes], headers: dict[str, str] | None = None
) -> httpx.Response:
    content, form_headers = form(*parts)
    return await site.client.post(
        UPLOAD, content=content, headers={**form_headers, **(headers or {})}
    )


def alert(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, flags=re.S)
    assert found, page
    return text_of(found.group(1)).strip()


# --- a good upload ---------------------------------------------------------------------------


async def test_the_form_sends_the_csrf_field_before_the_file(site: Served) -> None:
    await sign_in(site.client)
    page = (await site.client.get("/admin/training")).text
    found = re.search(r'<form method="post" action="/admin/training/upload".*?</form>', page, re.S)
    assert found, page
    upload_form = found.group(0)
    assert 'enctype="multipart/form-data"' in upload_form
    assert upload_form.index('name="csrf"') < upload_form.index('type="file" name="model"')
    assert "at most 0.05 MB" in upload_form


async def test_an_uploaded_model_is_listed_and_activated_with_one_click(
    site: Served, rasa: FakeRasa, models: Path, tmp_path: Path
) -> None:
    csrf = await sign_in(site.client)
    sent = archive_bytes(tmp_path)  # once: gzip records the second it was written
    answer = await upload(site, ("csrf", None, csrf.encode()), ("model", "my model.tar.gz", sent))
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/admin/training"
    names = stored(models)
    assert len(names) == 1 and re.fullmatch(r"uploaded-\d{8}-\d{6}-[0-9a-f]{8}\.tar\.gz", names[0])
    assert (models / names[0]).read_bytes() == sent
    page = (await site.client.get("/admin/training")).text
    assert f"The model is uploaded as {names[0]}" in page
    assert "made with Rasa 3.6.21); activate it in the list below." in page
    assert f'<input type="hidden" name="model" value="{names[0]}">' in page
    # The existing one-click switch.
    switched = await site.client.post(
        "/admin/training", data={"csrf": csrf, "op": "activate", "model": names[0]}
    )
    assert switched.status_code == 303
    assert rasa.current == names[0]
    assert rasa.loads == [names[0]]
    page = (await site.client.get("/admin/training")).text
    assert f"{names[0]} is active now." in page


async def test_the_csrf_token_may_come_as_a_header(
    site: Served, models: Path, tmp_path: Path
) -> None:
    csrf = await sign_in(site.client)
    answer = await upload(
        site, ("model", "m.tgz", archive_bytes(tmp_path)), headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == 303
    assert len(stored(models)) == 1


async def test_the_real_model_uploads_once(
    tmp_path: Path, project: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MAX_UPLOAD_ENV, raising=False)  # the default limit
    async with fake_rasa(None) as rasa, served(settings(tmp_path, project, rasa.url)) as site:
        csrf = await sign_in(site.client)
        data = await asyncio.to_thread(model.read_bytes)
        answer = await upload(site, ("csrf", None, csrf.encode()), ("model", model.name, data))
        assert answer.status_code == 303
        names = stored(tmp_path / "models")
        assert len(names) == 1
        assert (tmp_path / "models" / names[0]).read_bytes() == data
        again = await upload(site, ("csrf", None, csrf.encode()), ("model", "copy.tar.gz", data))
        assert again.status_code == 303
        assert stored(tmp_path / "models") == names
        page = (await site.client.get("/admin/training")).text
        assert f"This model is here already, as {names[0]}." in page


# --- who may upload --------------------------------------------------------------------------


async def test_signed_out_gets_401(site: Served, models: Path, tmp_path: Path) -> None:
    answer = await upload(
        site, ("csrf", None, b"x"), ("model", "m.tar.gz", archive_bytes(tmp_path))
    )
    assert answer.status_code == 401
    assert "Please sign in first." in answer.text
    assert stored(models) == []


async def test_a_viewer_gets_403_and_sees_no_form(
    site: Served, models: Path, tmp_path: Path
) -> None:
    csrf = await sign_in(site.client, "victor", VIEWER_PASSWORD)
    page = (await site.client.get("/admin/training")).text
    assert UPLOAD not in page
    answer = await upload(
        site, ("csrf", None, csrf.encode()), ("model", "m.tar.gz", archive_bytes(tmp_path))
    )
    assert answer.status_code == 403
    assert "may look but not change" in answer.text
    assert stored(models) == []


@pytest.mark.parametrize(
    "parts",
    [
        "no csrf",
        "wrong csrf",
        "csrf after the file",
        "csrf as a file",
    ],
)
async def test_no_or_a_wrong_csrf_token_gets_403(
    site: Served, models: Path, tmp_path: Path, parts: str
) -> None:
    csrf = await sign_in(site.client)
    archive = ("model", "m.tar.gz", archive_bytes(tmp_path))
    sent = {
        "no csrf": [archive],
        "wrong csrf": [("csrf", None, b"x" * 64), archive],
        "csrf after the file": [archive, ("csrf", None, csrf.encode())],
        "csrf as a file": [("csrf", "csrf.txt", csrf.encode()), archive],
    }[parts]
    answer = await upload(site, *sent)
    assert answer.status_code == 403
    assert "This form has expired" in answer.text
    wrong_header = await upload(site, archive, headers={"X-CSRF-Token": "y" * 64})
    assert wrong_header.status_code == 403
    assert stored(models) == []


# --- bad archives and names ------------------------------------------------------------------


BAD_ARCHIVES = {
    "traversal": ([*model_entries(), entry("../evil", b"x")], "climbs out of its folder"),
    "absolute": ([*model_entries(), entry("/etc/x", b"x")], "absolute path"),
    "symlink": (
        [*model_entries(), entry("components/p", type=tarfile.SYMTYPE, linkname="/etc/passwd")],
        "a symbolic link ('components/p' to '/etc/passwd')",
    ),
    "hardlink": (
        [*model_entries(), entry("components/h", type=tarfile.LNKTYPE, linkname="metadata.json")],
        "a hard link",
    ),
    "no metadata": (model_entries()[:4], "no metadata.json"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARCHIVES))
async def test_a_bad_archive_gets_400_and_leaves_nothing(
    site: Served, models: Path, tmp_path: Path, case: str
) -> None:
    csrf = await sign_in(site.client)
    entries, said = BAD_ARCHIVES[case]
    answer = await upload(
        site, ("csrf", None, csrf.encode()), ("model", "m.tar.gz", archive_bytes(tmp_path, entries))
    )
    assert answer.status_code == 400
    assert said in alert(answer.text)
    assert "Nothing was stored; the running bot is unchanged." in answer.text
    assert stored(models) == []


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"", "The file is empty."),
        (b"PK\x03\x04 a zip file", "not a gzip-compressed archive"),
        (b"\x1f\x8b\x08\x00 cut", "damaged or is not a tar archive"),
    ],
)
async def test_not_an_archive_gets_400(site: Served, models: Path, data: bytes, said: str) -> None:
    csrf = await sign_in(site.client)
    answer = await upload(site, ("csrf", None, csrf.encode()), ("model", "m.tar.gz", data))
    assert answer.status_code == 400
    assert said in alert(answer.text)
    assert stored(models) == []


@pytest.mark.parametrize(
    ("filename", "said"),
    [
        ("../../models/evil.tar.gz", "contains a path separator"),
        ("..\\\\evil.tar.gz", "contains a path separator"),
        ("/etc/cron.d/evil.tar.gz", "contains a path separator"),
        ("model.zip", "not a model archive"),
    ],
)
async def test_a_file_name_with_a_path_gets_400_saying_why(
    site: Served, models: Path, tmp_path: Path, filename: str, said: str
) -> None:
    csrf = await sign_in(site.client)
    answer = await upload(
        site, ("csrf", None, csrf.encode()), ("model", filename, archive_bytes(tmp_path))
    )
    assert answer.status_code == 400
    assert said in alert(answer.text)
    assert stored(models) == []
    assert not (tmp_path / "evil.tar.gz").exists()


async def test_no_file_gets_400(site: Served, models: Path) -> None:
    csrf = await sign_in(site.client)
    answer = await upload(site, ("csrf", None, csrf.encode()), ("model", "", b""))
    assert answer.status_code == 400
    assert alert(answer.text) == "Choose a model file (.tar.gz) to upload."
    only_csrf = await upload(site, ("csrf", None, csrf.encode()))
    assert only_csrf.status_code == 400
    assert stored(models) == []


async def test_a_form_that_is_not_multipart_gets_400(site: Served, models: Path) -> None:
    csrf = await sign_in(site.client)
    answer = await site.client.post(UPLOAD, data={"csrf": csrf, "model": "x"})
    assert answer.status_code == 400
    assert "must be a form upload (multipart/form-data)" in alert(answer.text)
    broken = await site.client.post(
        UPLOAD,
        content=form(("csrf", None, csrf.encode()))[0][:-30],  # cut short
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert broken.status_code == 400
    assert "cut short" in alert(broken.text)
    assert stored(models) == []


# --- too large -------------------------------------------------------------------------------


async def test_a_file_over_the_limit_gets_413(site: Served, models: Path, tmp_path: Path) -> None:
    csrf = await sign_in(site.client)
    noise = os.urandom(LIMIT + 5_000)  # random: it does not pack smaller
    big = archive_bytes(tmp_path, [*model_entries(), entry("components/noise", noise)])
    assert LIMIT < len(big) < LIMIT + 64 * 1024  # under the Content-Length check: streamed
    answer = await upload(site, ("csrf", None, csrf.encode()), ("model", "big.tar.gz", big))
    assert answer.status_code == 413
    assert alert(answer.text) == "The file is larger than the upload limit of 0.05 MB."
    assert stored(models) == []


async def _raw_request(site: Served, head: str, body: bytes = b"") -> bytes:
    port = site.client.base_url.port
    assert port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=20)
    finally:
        writer.close()


async def test_a_declared_length_over_the_limit_gets_413_before_the_body(
    site: Served, models: Path
) -> None:
    csrf = await sign_in(site.client)
    cookie = site.client.cookies.get("kopru_session")
    head = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: kopru_session={cookie}\r\n"
        f"X-CSRF-Token: {csrf}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {500 * 1_000_000}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    answer = await _raw_request(site, head)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large", answer[:300]
    assert b"100 Continue" not in answer  # the client was never asked for the body
    assert b"larger than the upload limit of 0.05 MB" in answer
    assert stored(models) == []


async def test_a_chunked_upload_over_the_limit_gets_413(
    site: Served, models: Path, tmp_path: Path
) -> None:
    csrf = await sign_in(site.client)
    cookie = site.client.cookies.get("kopru_session")
    content, headers = form(
        ("csrf", None, csrf.encode()), ("model", "m.tar.gz", b"\x1f\x8b" + b"z" * (LIMIT + 10_000))
    )
    head = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: kopru_session={cookie}\r\n"
        f"Content-Type: {headers['Content-Type']}\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    )
    # No Content-Length: the limit is found while the file streams in.
    chunks = (
        b"".join(
            f"{len(content[i : i + 4096]):x}\r\n".encode() + content[i : i + 4096] + b"\r\n"
            for i in range(0, len(content), 4096)
        )
        + b"0\r\n\r\n"
    )
    answer = await _raw_request(site, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b"larger than the upload limit of 0.05 MB" in answer
    assert stored(models) == []


def test_the_temp_file_is_hidden_from_the_model_list(tmp_path: Path) -> None:
    from bot.authoring.model_archive import Upload
    from bot.authoring.models import ModelRegistry

    models = tmp_path / "models"
    with Upload(models) as pending:
        pending.write(b"\x1f\x8b")
        assert stored(models) == [pending.path.name]
        assert ModelRegistry(models).list() == []
    assert stored(models) == []
