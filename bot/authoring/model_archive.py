"""Checking an uploaded Rasa model archive before it counts, and storing it under a name of
Köprü's own.

An upload is written to a hidden temporary file in the models directory (`Upload`), read
through once as a tar stream (`inspect_archive`): bounded in size, member count and unpacked
size (a gzip bomb stops at the limit), only plain files and folders with relative names
(no `..`, no absolute paths, no links, devices or FIFOs, no NUL, backslash or control
characters), laid out as Rasa 3 packs a model (`metadata.json` and `components/`), with
metadata that Rasa 3.6 accepts. Only then is it renamed, atomically, to
`uploaded-<UTC time>-<sha256 prefix>.tar.gz`: the uploader's file name is checked for a
helpful answer but never used as a path. A rejected upload leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from packaging.version import InvalidVersion, Version

from bot.errors import ConfigError, KopruError
from bot.storage.files import replace_file

__all__ = [
    "DEFAULT_MAX_UPLOAD_MB",
    "MAX_UPLOAD_ENV",
    "MINIMUM_RASA_VERSION",
    "ArchiveRejected",
    "ArchiveTooLarge",
    "Limits",
    "ModelSummary",
    "StoredModel",
    "Upload",
    "check_member",
    "check_upload_name",
    "inspect_archive",
    "stored_name",
]

MB = 1_000_000
# Köprü's models are ~14 MB packed, ~35 MB unpacked; a heavier pipeline (character n-grams
# into DIET) reached ~500 MB unpacked. The defaults leave room for that and stop a bomb.
DEFAULT_MAX_UPLOAD_MB = 200
MAX_UPLOAD_ENV = "KOPRU_MODEL_UPLOAD_MAX_MB"
UNPACKED_FACTOR = 10  # unpacked limit = this x the upload limit
MAX_MEMBERS = 10_000
MAX_METADATA_BYTES = 32 * MB
MAX_MEMBER_NAME = 1024
# rasa.constants.MINIMUM_COMPATIBLE_VERSION of the Rasa that Köprü runs: older models are
# refused by Rasa when it loads them (a test keeps the two equal).
MINIMUM_RASA_VERSION = "3.6.21"
RASA_MAJOR = 3
UPLOAD_PREFIX = "uploaded-"
SUFFIX = ".tar.gz"
TEMP_PREFIX = ".upload-"  # hidden: the model list only shows names starting with a letter
METADATA = "metadata.json"
COMPONENTS = "components"
# What ModelMetadata.from_dict reads without a default.
METADATA_KEYS = (
    "trained_at",
    "rasa_open_source_version",
    "model_id",
    "domain",
    "train_schema",
    "predict_schema",
    "training_type",
    "project_fingerprint",
    "core_target",
    "nlu_target",
    "language",
)
_DRIVE = re.compile(r"^[A-Za-z]:")
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE)
_KIND = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO (named pipe)",
    tarfile.CONTTYPE: "a contiguous file",
    tarfile.GNUTYPE_SPARSE: "a sparse file",
}
NOT_A_MODEL = "a Rasa 3 model holds only metadata.json and the components/ folder"


class ArchiveRejected(KopruError):
    """The upload is not a model Köprü will keep; `str()` says why, for the uploader."""

    status = 400


class ArchiveTooLarge(ArchiveRejected):
    """Over a size limit (the upload itself: HTTP 413)."""

    status = 413


@dataclass(frozen=True)
class Limits:
    """How large an upload may be, packed and unpacked, and how many members it may hold."""

    max_bytes: int = DEFAULT_MAX_UPLOAD_MB * MB
    max_unpacked_bytes: int = DEFAULT_MAX_UPLOAD_MB * MB * UNPACKED_FACTOR
    max_members: int = MAX_MEMBERS
    max_metadata_bytes: int = MAX_METADATA_BYTES

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_unpacked_bytes, self.max_members) <= 0:
            raise ConfigError("the model upload limits must be positive")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Limits:
        """KOPRU_MODEL_UPLOAD_MAX_MB (200): the largest upload, in MB; unpacked, ten times."""
        env = os.environ if env is None else env
        raw = (env.get(MAX_UPLOAD_ENV) or "").strip()
        if not raw:
            return cls()
        try:
            mb = float(raw)
        except ValueError:
            mb = -1.0
        if not 0 < mb <= 100_000:
            raise ConfigError(f"{MAX_UPLOAD_ENV} must be a number of MB above 0, got {raw!r}")
        max_bytes = int(mb * MB)
        return cls(max_bytes=max_bytes, max_unpacked_bytes=max_bytes * UNPACKED_FACTOR)

    @property
    def max_mb(self) -> str:
        return f"{self.max_bytes / MB:g} MB"


@dataclass(frozen=True)
class ModelSummary:
    """What the check learned about an archive that passed."""

    members: int
    unpacked_bytes: int
    rasa_version: str
    model_id: str
    trained_at: str
    assistant_id: str | None
    language: str | None


@dataclass(frozen=True)
class StoredModel:
    """An upload that passed: where it is now, and whether it was there already."""

    path: Path
    size: int
    sha256: str
    summary: ModelSummary
    duplicate: bool = False  # the same bytes were in the models directory already

    @property
    def name(self) -> str:
        return self.path.name


def _shown(name: str, limit: int = 100) -> str:
    """A name for a message: printable, and not too long."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def check_upload_name(name: str) -> None:
    """Refuse an uploader's file name that could only be a mistake or an attack (it is never
    used as a path: this is only for a clear answer)."""
    if not name:
        raise ArchiveRejected("Choose a model file (.tar.gz) to upload.")
    if "/" in name or "\\" in name:
        raise ArchiveRejected(
            f"The file name {_shown(name)!r} contains a path separator ('/' or '\\'): send "
            "the file under its plain name. (Uploaded models get a name of their own.)"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ArchiveRejected("The file name contains control characters.")
    if len(name) > 255:
        raise ArchiveRejected("The file name is longer than 255 characters.")
    if not name.lower().endswith((".tar.gz", ".tgz")):
        raise ArchiveRejected(
            f"{_shown(name)!r} is not a model archive: Rasa models are .tar.gz files "
            "(as in models/)."
        )


def check_member(info: tarfile.TarInfo) -> str:
    """The member's path without `.` parts ("" for the archive's root folder), if it is a
    plain file or folder with a safe relative name; else ArchiveRejected saying why."""
    raw = info.name
    shown = _shown(raw)
    if "\x00" in raw:
        raise ArchiveRejected(f"The archive has a member name with a NUL byte ({shown!r}).")
    if "\\" in raw:
        raise ArchiveRejected(
            f"The archive has a member name with a backslash ({shown!r}); Rasa models use '/'."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ArchiveRejected(f"The archive has a member name with control characters ({shown!r}).")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in raw):
        raise ArchiveRejected(f"The archive has a member name that is not UTF-8 ({shown!r}).")
    if len(raw) > MAX_MEMBER_NAME:
        raise ArchiveRejected(f"The archive has a member name longer than {MAX_MEMBER_NAME} bytes.")
    if raw.startswith("/") or _DRIVE.match(raw):
        raise ArchiveRejected(
            f"The archive has an absolute path ({shown!r}); a model's are relative."
        )
    parts = raw.split("/")
    if ".." in parts:
        raise ArchiveRejected(
            f"The archive has a member that climbs out of its folder ({shown!r}: '..')."
        )
    kind = _KIND.get(info.type)
    if info.type not in _FILE_TYPES and info.type != tarfile.DIRTYPE:
        what = kind or f"an entry of unknown type {info.type!r}"
        target = f" to {_shown(info.linkname)!r}" if info.issym() or info.islnk() else ""
        raise ArchiveRejected(
            f"The archive holds {what} ({shown!r}{target}); a Rasa model holds only files "
            "and folders."
        )
    if info.mode & 0o7000:
        raise ArchiveRejected(
            f"The archive has a member with setuid, setgid or sticky permissions ({shown!r})."
        )
    if info.size < 0:
        raise ArchiveRejected(f"The archive declares a negative size for {shown!r}.")
    path = "/".join(p for p in parts if p not in ("", "."))
    if not path and info.type != tarfile.DIRTYPE:
        raise ArchiveRejected("The archive has a file without a name.")
    return path


def _check_layout(path: str, info: tarfile.TarInfo) -> bool:
    """Whether the member has a place in a Rasa 3 model (metadata.json, components/)."""
    if path == METADATA:
        if info.type not in _FILE_TYPES:
            raise ArchiveRejected("metadata.json in the archive is not a file.")
        return True
    if path == COMPONENTS:
        if info.type != tarfile.DIRTYPE:
            raise ArchiveRejected("components in the archive is not a folder.")
        return True
    return not path or path.split("/", 1)[0] == COMPONENTS


def _check_metadata(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArchiveRejected(f"metadata.json in the archive is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ArchiveRejected("metadata.json in the archive is not a JSON object.")
    missing = [key for key in METADATA_KEYS if key not in data]
    if missing:
        raise ArchiveRejected(
            "metadata.json lacks what Rasa needs to load the model: " + ", ".join(missing) + "."
        )
    for key in ("domain", "train_schema", "predict_schema"):
        if not isinstance(data[key], dict):
            raise ArchiveRejected(f"metadata.json: {key} is not a JSON object.")
    for key in ("model_id", "trained_at", "rasa_open_source_version"):
        if not isinstance(data[key], str) or not data[key]:
            raise ArchiveRejected(f"metadata.json: {key} is not a text.")
    try:
        dt.datetime.fromisoformat(data["trained_at"])
    except ValueError:
        raise ArchiveRejected("metadata.json: trained_at is not a date and time.") from None
    made_with = data["rasa_open_source_version"]
    try:
        version = Version(made_with)
    except InvalidVersion:
        raise ArchiveRejected(
            f"metadata.json: {_shown(made_with)!r} is not a Rasa version."
        ) from None
    if version.major != RASA_MAJOR or version < Version(MINIMUM_RASA_VERSION):
        raise ArchiveRejected(
            f"The model was made with Rasa {_shown(made_with)}; the running Rasa loads models "
            f"made with Rasa {MINIMUM_RASA_VERSION} or a later 3.x."
        )
    return data


def _gzip_magic(handle: IO[bytes]) -> bytes:
    head = handle.read(2)
    handle.seek(0)
    return head


def inspect_archive(path: Path, limits: Limits | None = None) -> ModelSummary:
    """Read the archive once, as a stream, and refuse it (ArchiveRejected, ArchiveTooLarge)
    unless it is a Rasa 3 model that passes every check of this module."""
    limits = limits or Limits()
    size = path.stat().st_size
    if size == 0:
        raise ArchiveRejected("The file is empty.")
    if size > limits.max_bytes:
        raise ArchiveTooLarge(f"The file is larger than the upload limit of {limits.max_mb}.")
    members = 0
    unpacked = 0
    seen: set[str] = set()
    files: set[str] = set()
    metadata: dict[str, Any] | None = None
    has_components = False
    unexpected: list[str] = []  # judged at the end: a Rasa 2 model is told apart first
    with path.open("rb") as handle:
        if _gzip_magic(handle) != b"\x1f\x8b":
            raise ArchiveRejected(
                "This is not a gzip-compressed archive; Rasa models are .tar.gz files."
            )
        try:
            # Stream mode: each member's data is read past once, never searched back.
            with tarfile.open(fileobj=handle, mode="r|gz") as tar:
                for info in tar:
                    members += 1
                    if members > limits.max_members:
                        raise ArchiveTooLarge(
                            f"The archive has more than {limits.max_members} members."
                        )
                    name = check_member(info)
                    if name in seen:
                        raise ArchiveRejected(f"The archive has {_shown(name)!r} twice.")
                    parents = name.split("/")[:-1]
                    if any("/".join(parents[: i + 1]) in files for i in range(len(parents))):
                        raise ArchiveRejected(
                            f"The archive puts {_shown(name)!r} under a file, not a folder."
                        )
                    seen.add(name)
                    if not _check_layout(name, info):
                        unexpected.append(name)
                    unpacked += info.size
                    if unpacked > limits.max_unpacked_bytes:
                        limit = limits.max_unpacked_bytes / MB
                        raise ArchiveTooLarge(f"The archive unpacks to more than {limit:g} MB.")
                    if info.type in _FILE_TYPES:
                        files.add(name)
                    has_components = has_components or name.split("/", 1)[0] == COMPONENTS
                    if name == METADATA:
                        if info.size > limits.max_metadata_bytes:
                            raise ArchiveTooLarge("metadata.json in the archive is too large.")
                        extracted = tar.extractfile(info)
                        if extracted is None:  # pragma: no cover - regular files always have data
                            raise ArchiveRejected("metadata.json in the archive cannot be read.")
                        metadata = _check_metadata(extracted.read(limits.max_metadata_bytes + 1))
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise ArchiveRejected(
                f"The archive is damaged or is not a tar archive ({_shown(str(exc))})."
            ) from None
    if members == 0:
        raise ArchiveRejected("The archive is empty.")
    if "fingerprint.json" in seen:
        raise ArchiveRejected(
            "This is a Rasa 2 model (it has fingerprint.json); Köprü runs Rasa 3.6: train the "
            "model with Rasa 3.6."
        )
    if unexpected:
        raise ArchiveRejected(f"The archive has {_shown(unexpected[0])!r}, but {NOT_A_MODEL}.")
    if metadata is None:
        raise ArchiveRejected(f"The archive has no metadata.json: {NOT_A_MODEL}.")
    if not has_components:
        raise ArchiveRejected(f"The archive has no components/ folder: {NOT_A_MODEL}.")
    return ModelSummary(
        members=members,
        unpacked_bytes=unpacked,
        rasa_version=str(metadata["rasa_open_source_version"]),
        model_id=str(metadata["model_id"]),
        trained_at=str(metadata["trained_at"]),
        assistant_id=metadata.get("assistant_id")
        if isinstance(metadata.get("assistant_id"), str)
        else None,
        language=metadata["language"] if isinstance(metadata["language"], str) else None,
    )


def stored_name(sha256: str, at: dt.datetime) -> str:
    """`uploaded-20261123-164100-3f2a9c1b.tar.gz`: when (UTC) and what (the content's hash)."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", sha256):
        raise ValueError("sha256 must be a lowercase hex digest")
    stamp = at.astimezone(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{UPLOAD_PREFIX}{stamp}-{sha256[:8]}{SUFFIX}"


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _same_model(models_dir: Path, size: int, sha256: str) -> Path | None:
    """A model archive in `models_dir` with these very bytes (only same-size ones are read)."""
    for path in sorted(models_dir.glob("*" + SUFFIX)):
        if path.name.startswith("."):  # a training or an upload in progress
            continue
        try:
            same_size = path.is_file() and not path.is_symlink() and path.stat().st_size == size
            if same_size and _sha256_of(path) == sha256:
                return path
        except OSError:
            continue
    return None


class Upload:
    """One upload on its way into the models directory.

    `write` the bytes as they arrive (ArchiveTooLarge past the limit), then `finish` (checks
    the archive, renames it into place) or `discard`; used as a context manager, whatever
    was not finished is removed. Blocking file I/O: `finish` belongs in a worker thread.
    """

    def __init__(self, models_dir: Path, limits: Limits | None = None) -> None:
        self.models_dir = models_dir
        self.limits = limits or Limits()
        models_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=models_dir)
        self.path = Path(name)
        self._file: IO[bytes] | None = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self.size = 0
        self.done = False

    def __enter__(self) -> Upload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.done:
            self.discard()

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise ValueError("the upload is closed")
        self.size += len(chunk)
        if self.size > self.limits.max_bytes:
            raise ArchiveTooLarge(
                f"The file is larger than the upload limit of {self.limits.max_mb}."
            )
        self._digest.update(chunk)
        self._file.write(chunk)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)
        self.done = True

    def finish(self, now: dt.datetime | None = None) -> StoredModel:
        """Check the archive and move it into place (ArchiveRejected: nothing is kept)."""
        if self._file is None:
            raise ValueError("the upload is closed")
        try:
            self._close()  # replace_file syncs the bytes before the rename
            summary = inspect_archive(self.path, self.limits)
            sha256 = self._digest.hexdigest()
            existing = _same_model(self.models_dir, self.size, sha256)
            if existing is not None:
                self.discard()
                return StoredModel(existing, self.size, sha256, summary, duplicate=True)
            target = self.models_dir / stored_name(sha256, now or dt.datetime.now(dt.timezone.utc))
            # 0644 like a trained model (mkstemp makes it 0600)
            replace_file(self.path, target, mode=0o644)
            self.done = True
            return StoredModel(target, self.size, sha256, summary)
        except BaseException:
            if not self.done:
                self.discard()
            raise
