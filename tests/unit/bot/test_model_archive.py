"""The model upload checks: malicious and broken archives built in tmp_path are refused with
a reason, a real-looking model (and the real trained one) passes, and an upload is stored
under a name of its own, atomically, or leaves nothing behind."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.authoring.model_archive import (
    MAX_UPLOAD_ENV,
    MINIMUM_RASA_VERSION,
    ArchiveRejected,
    ArchiveTooLarge,
    Limits,
    Upload,
    check_upload_name,
    inspect_archive,
    stored_name,
)
from bot.authoring.models import ModelRegistry, check_name
from bot.errors import ConfigError

MB = 1_000_000
NOW = dt.datetime(2026, 11, 23, 16, 41, 0, tzinfo=dt.timezone.utc)


def metadata(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "domain": {"version": "3.1", "intents": ["greet"]},
        "trained_at": "2026-11-23T16:41:00.123456",
        "model_id": "0a1b2c3d4e5f",
        "assistant_id": "kopru",
        "rasa_open_source_version": "3.6.21",
        "train_schema": {"nodes": {}},
        "predict_schema": {"nodes": {}},
        "training_type": 3,
        "project_fingerprint": "f00d",
        "core_target": "select_prediction",
        "nlu_target": "run_RegexMessageHandler",
        "language": "xx",
        "spaces": None,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def entry(name: str, data: bytes = b"", **attributes: Any) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    for key, value in attributes.items():
        setattr(info, key, value)
    return info, data


def directory(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return entry(name, type=tarfile.DIRTYPE, mode=0o755)


def model_entries(meta: dict[str, Any] | None = None) -> list[tuple[tarfile.TarInfo, bytes]]:
    """Laid out as Rasa's LocalModelStorage packs a model (the root folder named "")."""
    return [
        directory(""),
        directory("components"),
        directory("components/train_RegexFeaturizer1"),
        entry("components/train_RegexFeaturizer1/patterns.json", b"[]"),
        entry("metadata.json", json.dumps(meta or metadata()).encode()),
    ]


def write_tar(
    path: Path,
    entries: Iterable[tuple[tarfile.TarInfo, bytes]],
    *,
    compress: bool = True,
    form: int = tarfile.PAX_FORMAT,
) -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=form) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    path.write_bytes(gzip.compress(raw.getvalue()) if compress else raw.getvalue())
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Callable[..., Path]:
    def make(*entries: tuple[tarfile.TarInfo, bytes], **options: Any) -> Path:
        return write_tar(tmp_path / "upload.tar.gz", entries, **options)

    return make


def refused(path: Path, limits: Limits | None = None) -> str:
    with pytest.raises(ArchiveRejected) as caught:
        inspect_archive(path, limits)
    assert type(caught.value) is ArchiveRejected, caught.value  # not "too large"
    assert caught.value.status == 400
    return str(caught.value)


def too_large(path: Path, limits: Limits | None = None) -> str:
    with pytest.raises(ArchiveTooLarge) as caught:
        inspect_archive(path, limits)
    assert caught.value.status == 413
    return str(caught.value)


# --- a model passes --------------------------------------------------------------------------


def test_a_real_looking_model_passes(archive: Callable[..., Path]) -> None:
    summary = inspect_archive(archive(*model_entries()))
    assert summary.members == 5
    assert summary.rasa_version == "3.6.21"
    assert summary.model_id == "0a1b2c3d4e5f"
    assert summary.assistant_id == "kopru"
    assert summary.language == "xx"


def test_a_model_packed_with_dot_slash_names_passes(archive: Callable[..., Path]) -> None:
    entries = [directory(".")] + [
        (entry(f"./{info.name}", data, type=info.type, mode=info.mode))
        for info, data in model_entries()[1:]
    ]
    assert inspect_archive(archive(*entries)).members == 5


def test_the_real_trained_model_passes(model: Path) -> None:
    summary = inspect_archive(model)
    assert summary.rasa_version.startswith("3.6.")
    assert summary.members > 10
    assert summary.unpacked_bytes > model.stat().st_size


def test_the_minimum_version_is_rasas() -> None:
    from rasa.constants import MINIMUM_COMPATIBLE_VERSION

    assert MINIMUM_RASA_VERSION == MINIMUM_COMPATIBLE_VERSION


# --- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("../evil", "climbs out of its folder"),
        ("components/../../evil", "climbs out of its folder"),
        ("components/x/../../../etc/cron.d/x", "climbs out of its folder"),
        ("/etc/x", "absolute path"),
        ("/components/x.json", "absolute path"),
        ("C:/Windows/x", "absolute path"),
        ("components\\..\\..\\evil", "backslash"),
        ("components/a\nb", "control characters"),
    ],
)
def test_unsafe_member_names_are_refused(
    archive: Callable[..., Path], name: str, said: str
) -> None:
    message = refused(archive(*model_entries(), entry(name, b"x")))
    assert said in message


def test_a_nul_in_a_member_name_is_refused(archive: Callable[..., Path]) -> None:
    # A ustar name ends at a NUL; a pax "path" record can carry one.
    info, data = entry("components/x", b"x")
    info.pax_headers = {"path": "components/a\x00b"}
    assert "NUL byte" in refused(archive(*model_entries(), (info, data)))


def test_a_member_name_that_is_not_utf8_is_refused(archive: Callable[..., Path]) -> None:
    info, data = entry("components/x", b"x")
    info.pax_headers = {"path": "components/\udcff"}
    assert "not UTF-8" in refused(archive(*model_entries(), (info, data)))


def test_a_traversal_hidden_in_a_pax_header_is_refused(archive: Callable[..., Path]) -> None:
    info, data = entry("components/harmless.json", b"x")
    info.pax_headers = {"path": "../../evil"}
    assert "climbs out" in refused(archive(*model_entries(), (info, data)))


# --- member types ----------------------------------------------------------------------------


def test_a_symlink_to_etc_passwd_is_refused(archive: Callable[..., Path]) -> None:
    link = entry("components/passwd", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    message = refused(archive(*model_entries(), link))
    assert "a symbolic link ('components/passwd' to '/etc/passwd')" in message
    assert "only files and folders" in message


def test_a_relative_symlink_is_refused(archive: Callable[..., Path]) -> None:
    link = entry("components/up", type=tarfile.SYMTYPE, linkname="../..")
    assert "symbolic link" in refused(archive(*model_entries(), link))


def test_a_hardlink_is_refused(archive: Callable[..., Path]) -> None:
    link = entry("components/shadow", type=tarfile.LNKTYPE, linkname="/etc/shadow")
    assert "a hard link" in refused(archive(*model_entries(), link))


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        (tarfile.CHRTYPE, "a character device"),
        (tarfile.BLKTYPE, "a block device"),
        (tarfile.FIFOTYPE, "a FIFO"),
        (tarfile.CONTTYPE, "a contiguous file"),
        (b"Z", "unknown type"),
    ],
)
def test_devices_fifos_and_odd_types_are_refused(
    archive: Callable[..., Path], kind: bytes, said: str
) -> None:
    odd = entry("components/odd", type=kind, devmajor=1, devminor=3)
    assert said in refused(archive(*model_entries(), odd, form=tarfile.GNU_FORMAT))


def test_setuid_is_refused(archive: Callable[..., Path]) -> None:
    tool = entry("components/tool", b"#!/bin/sh\n", mode=0o4755)
    assert "setuid" in refused(archive(*model_entries(), tool))


def test_a_member_twice_is_refused(archive: Callable[..., Path]) -> None:
    again = entry("metadata.json", json.dumps(metadata(model_id="other")).encode())
    assert "'metadata.json' twice" in refused(archive(*model_entries(), again))


def test_a_path_under_a_file_is_refused(archive: Callable[..., Path]) -> None:
    entries = [*model_entries(), entry("components/blob", b"x"), entry("components/blob/x", b"y")]
    assert "under a file" in refused(archive(*entries))


# --- sizes and bombs -------------------------------------------------------------------------


def test_a_huge_declared_size_is_refused_before_reading_it(archive: Callable[..., Path]) -> None:
    # The header claims a terabyte that is not there: refused on the claim.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in model_entries():
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
        huge = tarfile.TarInfo("components/huge.bin")
        huge.size = 10**12
        header = huge.tobuf(tar.format, tar.encoding, tar.errors)
        assert tar.fileobj is not None
        tar.fileobj.write(header)  # the header only: its data is not there
        tar.offset += len(header)
    path = archive()
    path.write_bytes(gzip.compress(raw.getvalue()))
    assert "unpacks to more than 2000 MB" in too_large(path)


def test_a_gzip_bomb_stops_at_the_unpacked_limit(tmp_path: Path) -> None:
    zeros = b"\0" * (3 * MB)
    path = write_tar(tmp_path / "bomb.tar.gz", [*model_entries(), entry("components/z", zeros)])
    assert path.stat().st_size < 100_000  # it packs very small
    limits = Limits(max_bytes=MB, max_unpacked_bytes=2 * MB)
    assert "unpacks to more than 2 MB" in too_large(path, limits)


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    many = [entry(f"components/f{i}", b"") for i in range(30)]
    path = write_tar(tmp_path / "many.tar.gz", [*model_entries(), *many])
    assert "more than 20 members" in too_large(path, Limits(max_members=20))


def test_a_file_over_the_upload_limit_is_refused(archive: Callable[..., Path]) -> None:
    path = archive(*model_entries(), entry("components/noise", os.urandom(200_000)))
    assert "larger than the upload limit of 0.1 MB" in too_large(path, Limits(max_bytes=100_000))


def test_a_large_metadata_file_is_refused(archive: Callable[..., Path]) -> None:
    big = metadata(domain={"padding": "x" * 5000})
    path = archive(*model_entries(big))
    limits = Limits(max_metadata_bytes=1000)
    assert "metadata.json in the archive is too large" in too_large(path, limits)


# --- not an archive, or not a model ---------------------------------------------------------


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.tar.gz"
    path.write_bytes(b"")
    assert refused(path) == "The file is empty."


def test_an_empty_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.tar.gz"
    path.write_bytes(gzip.compress(b""))
    assert refused(path) == "The archive is damaged or is not a tar archive (empty file)."


def test_an_empty_tar_is_refused(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "empty.tar.gz", [])
    assert refused(path) == "The archive is empty."


def test_not_gzip_is_refused(tmp_path: Path, archive: Callable[..., Path]) -> None:
    assert "not a gzip-compressed archive" in refused(archive(*model_entries(), compress=False))
    text = tmp_path / "notes.tar.gz"
    text.write_text("merhaba, this is text\n")
    assert "not a gzip-compressed archive" in refused(text)


def test_a_truncated_archive_is_refused(archive: Callable[..., Path]) -> None:
    path = archive(*model_entries(), entry("components/noise", os.urandom(50_000)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "damaged" in refused(path)


def test_gzip_of_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.tar.gz"
    path.write_bytes(gzip.compress(os.urandom(4000)))
    assert "damaged or is not a tar archive" in refused(path)


def test_a_rasa_2_model_is_refused(archive: Callable[..., Path]) -> None:
    path = archive(directory("core"), entry("fingerprint.json", b'{"version": "2.8.1"}'))
    assert "Rasa 2 model" in refused(path)


def test_an_archive_without_metadata_is_refused(archive: Callable[..., Path]) -> None:
    path = archive(*model_entries()[:4])
    assert "no metadata.json" in refused(path)


def test_an_archive_without_components_is_refused(archive: Callable[..., Path]) -> None:
    path = archive(entry("metadata.json", json.dumps(metadata()).encode()))
    assert "no components/ folder" in refused(path)


def test_other_top_level_files_are_refused(archive: Callable[..., Path]) -> None:
    path = archive(*model_entries(), entry("install.sh", b"rm -rf /"))
    assert "'install.sh', but a Rasa 3 model holds only" in refused(path)


@pytest.mark.parametrize(
    ("meta", "said"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (
            json.dumps(metadata(domain=...)).encode(),
            "lacks what Rasa needs to load the model: domain",
        ),
        (json.dumps(metadata(predict_schema=[])).encode(), "predict_schema is not a JSON object"),
        (json.dumps(metadata(trained_at="yesterday")).encode(), "trained_at is not a date"),
        (json.dumps(metadata(rasa_open_source_version="banana")).encode(), "not a Rasa version"),
        (json.dumps(metadata(rasa_open_source_version="3.5.0")).encode(), "made with Rasa 3.5.0"),
        (json.dumps(metadata(rasa_open_source_version="3.6.20")).encode(), "Rasa 3.6.21 or"),
        (json.dumps(metadata(rasa_open_source_version="4.0.0")).encode(), "made with Rasa 4.0.0"),
    ],
)
def test_metadata_rasa_would_not_load_is_refused(
    archive: Callable[..., Path], meta: bytes, said: str
) -> None:
    path = archive(*model_entries()[:4], entry("metadata.json", meta))
    assert said in refused(path)


# --- the uploader's file name ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["model.tar.gz", "kopru-3b9a.tar.gz", "M.TGZ", "ünïcode model.tar.gz"]
)
def test_plain_file_names_are_accepted(name: str) -> None:
    check_upload_name(name)


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("", "Choose a model file"),
        ("../../models/evil.tar.gz", "contains a path separator ('/' or '\\')"),
        ("/etc/cron.d/x.tar.gz", "path separator"),
        ("..\\..\\evil.tar.gz", "path separator"),
        ("C:\\Users\\x\\model.tar.gz", "path separator"),
        ("model\x00.tar.gz", "control characters"),
        ("model\n.tar.gz", "control characters"),
        ("x" * 300 + ".tar.gz", "longer than 255"),
        ("model.zip", "not a model archive"),
        ("passwd", "not a model archive"),
    ],
)
def test_unsafe_or_wrong_file_names_say_why(name: str, said: str) -> None:
    with pytest.raises(ArchiveRejected) as caught:
        check_upload_name(name)
    assert said in str(caught.value)


def test_the_stored_name_is_our_own() -> None:
    name = stored_name("3f2a9c1b" + "0" * 56, NOW)
    assert name == "uploaded-20261123-164100-3f2a9c1b.tar.gz"
    check_name(name)  # a name the model registry accepts
    with pytest.raises(ValueError):
        stored_name("../../x", NOW)


# --- limits from the environment -------------------------------------------------------------


def test_limits_from_the_environment() -> None:
    assert Limits.from_env({}) == Limits()
    assert Limits().max_mb == "200 MB"
    limits = Limits.from_env({MAX_UPLOAD_ENV: "50"})
    assert (limits.max_bytes, limits.max_unpacked_bytes) == (50 * MB, 500 * MB)
    assert Limits.from_env({MAX_UPLOAD_ENV: "0.5"}).max_bytes == 500_000
    for bad in ("0", "-3", "lots", "1e9"):
        with pytest.raises(ConfigError, match=MAX_UPLOAD_ENV):
            Limits.from_env({MAX_UPLOAD_ENV: bad})


# --- storing an upload -----------------------------------------------------------------------


def _chunks(data: bytes, size: int = 7000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_an_upload_is_checked_then_renamed_into_place(tmp_path: Path) -> None:
    source = write_tar(tmp_path / "source.tar.gz", model_entries())
    models = tmp_path / "models"
    with Upload(models) as upload:
        assert upload.path.parent == models and upload.path.name.startswith(".upload-")
        for chunk in _chunks(source.read_bytes()):
            upload.write(chunk)
        stored = upload.finish(NOW)
    assert not stored.duplicate
    assert stored.path.parent == models
    assert stored.name.startswith("uploaded-20261123-164100-")
    assert stored.path.read_bytes() == source.read_bytes()
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o644
    assert sorted(p.name for p in models.iterdir()) == [stored.name]
    assert [m.name for m in ModelRegistry(models).list()] == [stored.name]


def test_the_same_model_twice_is_not_stored_twice(tmp_path: Path, model: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy2(model, models / model.name)
    with Upload(models) as upload:
        with model.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                upload.write(block)
        stored = upload.finish(NOW)
    assert stored.duplicate
    assert stored.path == models / model.name
    assert sorted(p.name for p in models.iterdir()) == [model.name]


@pytest.mark.parametrize(
    "entries",
    [
        [*model_entries(), entry("../evil", b"x")],
        [*model_entries(), entry("components/l", type=tarfile.SYMTYPE, linkname="/etc/passwd")],
        model_entries()[:4],
    ],
)
def test_a_rejected_upload_leaves_nothing(tmp_path: Path, entries: list[Any]) -> None:
    source = write_tar(tmp_path / "source.tar.gz", entries)
    models = tmp_path / "models"
    with pytest.raises(ArchiveRejected), Upload(models) as upload:
        upload.write(source.read_bytes())
        upload.finish(NOW)
    assert list(models.iterdir()) == []


def test_writing_past_the_limit_stops_and_leaves_nothing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with (
        pytest.raises(ArchiveTooLarge, match=r"upload limit of 0\.01 MB"),
        Upload(models, Limits(max_bytes=10_000)) as upload,
    ):
        for _ in range(100):
            upload.write(b"x" * 1000)
    assert upload.size <= 11_000
    assert list(models.iterdir()) == []


def test_an_interrupted_upload_leaves_nothing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(KeyboardInterrupt), Upload(models) as upload:
        upload.write(b"\x1f\x8b partial")
        raise KeyboardInterrupt
    assert list(models.iterdir()) == []
