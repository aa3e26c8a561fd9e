"""Dashboard accounts: password hashes, the accounts file, `kopru admin-user`, a sign-in throttle.

Accounts live in a YAML file (KOPRU_ADMINS_FILE, default `<var>/admins.yml`), written by
`kopru admin-user` (atomically, mode 0600) or by hand:

    - username: ayse
      role: admin          # admin: may change things; viewer: may only look
      password: pbkdf2_sha256$600000$<salt, base64>$<hash, base64>

Passwords are PBKDF2-HMAC-SHA256 hashes (stdlib `hashlib`) with a random salt, compared in
constant time. The web app reads the file at start (an invalid file is a ConfigError) and
again whenever it changes; a file that turns invalid while serving leaves no file accounts
(signing in with the admin token still works) until it is fixed.

Nothing here imports Sanic: `kopru admin-user` stays quick.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import logging
import os
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml
from pydantic import ValidationError, validator

from bot.config_models import Section, first_problem
from bot.errors import ConfigError, KopruError
from bot.settings import Settings
from bot.storage.files import atomic_write, file_lock

__all__ = [
    "ADMIN",
    "ROLES",
    "VIEWER",
    "Account",
    "AccountError",
    "AccountStore",
    "LoginThrottle",
    "admins_file_from_env",
    "hash_password",
    "load_accounts",
    "manage",
    "parse_accounts",
    "save_accounts",
    "valid_username",
    "verify_password",
]

logger = logging.getLogger(__name__)

ADMIN, VIEWER = "admin", "viewer"
ROLES = (ADMIN, VIEWER)

SCHEME = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's figure for PBKDF2-HMAC-SHA256 (about 0.2 s here)
MIN_ITERATIONS = 200_000
MAX_ITERATIONS = 10_000_000  # a typo must not make every sign-in take minutes
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD = 12
MAX_PASSWORD = 1024

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
USERNAME_RULE = "1 to 64 lowercase letters, digits and . _ @ -, starting with a letter or a digit"
FILE_HEADER = (
    "# Köprü dashboard accounts, written by `kopru admin-user` (add, list, remove, passwd).\n"
    "# role: admin (may change things) or viewer (may only look); passwords are hashes.\n"
)


class AccountError(KopruError):
    """A bad request to `kopru admin-user` (exit code 2)."""


# --- passwords -------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """`pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>` with a random salt."""
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def _parse_hash(encoded: str) -> tuple[int, bytes, bytes]:
    """(iterations, salt, hash) of an encoded hash; ValueError saying what is wrong."""
    parts = encoded.split("$")
    if len(parts) != 4:
        raise ValueError(f"is not {SCHEME}$<iterations>$<salt>$<hash>")
    scheme, rounds, salt_text, hash_text = parts
    if scheme != SCHEME:
        raise ValueError(f"uses the unknown scheme {scheme[:30]!r} (expected {SCHEME})")
    if not rounds.isdigit() or not MIN_ITERATIONS <= int(rounds) <= MAX_ITERATIONS:
        raise ValueError(f"must have {MIN_ITERATIONS}..{MAX_ITERATIONS} iterations")
    try:
        salt, digest = _unb64(salt_text), _unb64(hash_text)
    except (binascii.Error, ValueError):
        raise ValueError("has a salt or hash that is not base64") from None
    if len(salt) < 8 or len(digest) != HASH_BYTES:
        raise ValueError(f"needs a salt of 8+ bytes and a hash of {HASH_BYTES} bytes")
    return int(rounds), salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches `encoded`; False (never an error) for a malformed hash."""
    try:
        iterations, salt, expected = _parse_hash(encoded)
    except ValueError:
        return False
    if len(password) > MAX_PASSWORD:
        return False
    actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(actual, expected)


# Checked against when the username is unknown, so that the answer takes as long as for a
# known one (it matches no password).
DUMMY_HASH = f"{SCHEME}${ITERATIONS}${_b64(bytes(SALT_BYTES))}${_b64(bytes(HASH_BYTES))}"


# --- the accounts file -----------------------------------------------------------------------


def valid_username(name: str) -> bool:
    return bool(_USERNAME.fullmatch(name))


@dataclass(frozen=True)
class Account:
    username: str
    role: str  # ADMIN or VIEWER
    password: str = field(repr=False)  # the encoded hash

    def as_yaml(self) -> dict[str, str]:
        return {"username": self.username, "role": self.role, "password": self.password}


def _entry_username(value: object) -> str:
    if not isinstance(value, str) or not valid_username(value):
        raise ValueError(f"the username must be {USERNAME_RULE}, got {value!r}")
    return value


def _entry_role(value: object) -> str:
    if value not in ROLES:
        raise ValueError(f"the role must be admin or viewer, got {value!r}")
    return str(value)


def _entry_password(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("the password must be a hash made by kopru admin-user")
    try:
        _parse_hash(value)
    except ValueError as exc:
        raise ValueError(f"the password hash {exc}") from None
    return value


class _AccountEntry(Section):
    """One entry of the accounts file; None only until the validators have run."""

    username: str | None = None
    role: str | None = None
    password: str | None = None

    _username = validator("username", pre=True, always=True, allow_reuse=True)(_entry_username)
    _role = validator("role", pre=True, always=True, allow_reuse=True)(_entry_role)
    _password = validator("password", pre=True, always=True, allow_reuse=True)(_entry_password)


def _account(entry: object, where: str) -> Account:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a mapping with username, role and password")
    try:
        checked = _AccountEntry.parse_obj(dict(entry))
    except ValidationError as exc:
        problem = first_problem(exc)
        if problem.key not in (None, "username"):
            # The username is checked first: here it is a good one, worth naming.
            where = f"{where} ({entry['username']})"
        raise ConfigError(
            problem.text(where, unknown="{where} has unknown keys: {keys}", dotted=False)
        ) from None
    return Account(str(checked.username), str(checked.role), str(checked.password))


def parse_accounts(text: str, source: str) -> tuple[Account, ...]:
    """The accounts of a file's text; ConfigError naming `source` and the problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(f"{source} must be a list of accounts (username, role, password)")
    accounts = tuple(_account(entry, f"{source}: account {i + 1}") for i, entry in enumerate(data))
    seen: set[str] = set()
    for account in accounts:
        if account.username in seen:
            raise ConfigError(f"{source}: the username {account.username!r} appears twice")
        seen.add(account.username)
    return accounts


def load_accounts(path: Path) -> tuple[Account, ...]:
    """The accounts in `path`; none when it does not exist (a fresh install)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the accounts file {path}: {exc}") from None
    return parse_accounts(text, f"the accounts file {path}")


def save_accounts(path: Path, accounts: Sequence[Account]) -> None:
    """Replace `path` atomically by a file (mode 0600) with `accounts`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(
        [a.as_yaml() for a in accounts], sort_keys=False, allow_unicode=True, width=200
    )
    atomic_write(path, FILE_HEADER + (body if accounts else ""), mode=0o600)


def admins_file_from_env(env: Mapping[str, str] | None = None) -> Path:
    """KOPRU_ADMINS_FILE, else admins.yml in Köprü's var directory."""
    env = os.environ if env is None else env
    configured = env.get("KOPRU_ADMINS_FILE")
    return Path(configured) if configured else Settings.from_env(env).var_dir / "admins.yml"


class AccountStore:
    """The accounts of a file, read again whenever it changes (checked on every lookup)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._version: tuple[int, int, int] | None = None
        self._accounts: dict[str, Account] = {}
        if path is not None:
            self._version = self._stat()
            self._accounts = {a.username: a for a in load_accounts(path)}  # errors: at start

    def _stat(self) -> tuple[int, int, int] | None:
        assert self.path is not None
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.error("Cannot read the accounts file %s: %s", self.path, exc)
            return (-1, -1, -1)
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _refresh(self) -> None:
        if self.path is None:
            return
        version = self._stat()
        if version == self._version:
            return
        try:
            accounts = load_accounts(self.path)
        except ConfigError as exc:
            # Fail closed: an account removed by an edit that broke the file stays removed.
            logger.error("%s; no one can sign in with a password until it is fixed", exc)
            accounts = ()
        self._version = version
        self._accounts = {a.username: a for a in accounts}

    def get(self, username: str) -> Account | None:
        with self._lock:
            self._refresh()
            return self._accounts.get(username)

    def all(self) -> tuple[Account, ...]:
        with self._lock:
            self._refresh()
            return tuple(self._accounts.values())


# --- kopru admin-user ------------------------------------------------------------------------


def _username(raw: str) -> str:
    name = raw.strip().lower()
    if not valid_username(name):
        raise AccountError(f"a username must be {USERNAME_RULE}, got {raw!r}")
    return name


def _check_password(password: str, username: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be {MIN_PASSWORD} characters or longer")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters")
    if password.strip().lower() == username:
        raise AccountError("the password must not be the username")
    return password


def _read_password(username: str, stdin: TextIO | None, prompt: Callable[[str], str]) -> str:
    if stdin is not None:
        line = stdin.readline()
        return _check_password(line.removesuffix("\n").removesuffix("\r"), username)
    first = _check_password(prompt(f"Password for {username}: "), username)
    if prompt("The same password again: ") != first:
        raise AccountError("the two passwords differ; nothing was changed")
    return first


def manage(
    action: str,
    path: Path,
    name: str | None = None,
    *,
    role: str = ADMIN,
    password_stdin: TextIO | None = None,
    prompt: Callable[[str], str] | None = None,
    out: TextIO | None = None,
    iterations: int | None = None,
) -> None:
    """`kopru admin-user ACTION [NAME]`: add, list, remove or passwd (a new password).

    The password comes from `password_stdin` (its first line) or is asked twice with
    `prompt` (default: getpass). Raises AccountError for a bad request, ConfigError for a
    broken file.
    """
    out = sys.stdout if out is None else out
    prompt = getpass.getpass if prompt is None else prompt
    iterations = ITERATIONS if iterations is None else iterations
    if action == "list":
        listed = load_accounts(path)
        if not listed:
            print(f"No accounts in {path}. Sign in with the admin token (username empty), "
                  "or add one: kopru admin-user add NAME", file=out)  # fmt: skip
        for account in sorted(listed, key=lambda a: a.username):
            print(f"{account.username}\t{account.role}", file=out)
        return
    if name is None:
        raise AccountError(f"{action} needs a username")
    if role not in ROLES:
        raise AccountError(f"the role must be admin or viewer, got {role!r}")
    username = _username(name)
    # One `kopru admin-user` at a time changes `path` (read, change, write): a lock on its
    # folder, which leaves no lock file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.parent):
        accounts = list(load_accounts(path))
        index = next((i for i, a in enumerate(accounts) if a.username == username), None)
        if action == "add":
            if index is not None:
                raise AccountError(f"{username} exists already (kopru admin-user passwd changes "
                                   "the password; remove and add to change the role)")  # fmt: skip
            password = _read_password(username, password_stdin, prompt)
            accounts.append(Account(username, role, hash_password(password, iterations=iterations)))
            message = f"Added {username} ({role}) to {path}."
        elif index is None:
            raise AccountError(f"there is no account {username} in {path}")
        elif action == "remove":
            del accounts[index]
            message = f"Removed {username} from {path}; their sessions end at the next request."
        elif action == "passwd":
            password = _read_password(username, password_stdin, prompt)
            old = accounts[index]
            accounts[index] = Account(
                username, old.role, hash_password(password, iterations=iterations)
            )
            message = f"Changed the password of {username}; their sessions have ended."
        else:
            raise AccountError(f"unknown action {action!r}")
        save_accounts(path, accounts)
    print(message, file=out)


# --- the sign-in throttle --------------------------------------------------------------------


class LoginThrottle:
    """After `failures` failed sign-ins for one key (a username, an address) within `window`
    seconds, that key is refused for `lockout` seconds. Kept in this process only.

    A sign-in is counted before its password is checked (`reserve`, then `settle` with the
    outcome): attempts under way count as failures until they end, so attempts sent at once
    cannot all slip through while the first ones are still being checked."""

    def __init__(
        self,
        failures: int = 5,
        window: float = 300.0,
        lockout: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_keys: int = 10_000,
    ) -> None:
        self.failures = failures
        self.window = window
        self.lockout = lockout
        self._clock = clock
        self._max_keys = max_keys
        self._failed: dict[str, deque[float]] = {}
        self._locked: dict[str, float] = {}  # key -> locked until
        self._pending: dict[str, int] = {}  # key -> attempts being checked now
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[str]) -> float:
        """Seconds until these keys may try again; 0 when they may now."""
        now = self._clock()
        with self._lock:
            until = max((self._locked.get(k, 0.0) for k in keys), default=0.0)
        return max(0.0, until - now)

    def reserve(self, keys: Sequence[str]) -> float:
        """Count an attempt for `keys` before its password is checked: 0 when it may go
        ahead (then `settle` must follow, also when the check fails with an error), else the
        seconds until these keys may try again. An attempt is refused while a key is
        locked, or while its recent failures and the attempts under way would lock it."""
        now = self._clock()
        with self._lock:
            self._forget(now)
            until = max((self._locked.get(k, 0.0) for k in keys), default=0.0)
            if until > now:
                return until - now
            if any(self._recent(k, now) + self._pending.get(k, 0) >= self.failures for k in keys):
                return self.lockout  # the attempts under way, if they fail, lock it this long
            for key in keys:
                self._pending[key] = self._pending.get(key, 0) + 1
            return 0.0

    def settle(self, keys: Sequence[str], *, failed: bool, forgive: Iterable[str] = ()) -> None:
        """End an attempt `reserve` let through: a failure counts for every key of it; a
        success forgives the earlier failures of the keys `forgive`."""
        now = self._clock()
        with self._lock:
            for key in keys:
                left = self._pending.get(key, 0) - 1
                if left > 0:
                    self._pending[key] = left
                else:
                    self._pending.pop(key, None)
            if failed:
                self._count_failure(keys, now)
            else:
                self._forgive(forgive)

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            self._count_failure(keys, now)

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._forgive(keys)

    def _recent(self, key: str, now: float) -> int:
        times = self._failed.get(key)
        if not times:
            return 0
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times)

    def _count_failure(self, keys: Iterable[str], now: float) -> None:
        self._forget(now)
        for key in keys:
            times = self._failed.setdefault(key, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            times.append(now)
            if len(times) >= self.failures:
                self._locked[key] = now + self.lockout
                del self._failed[key]

    def _forgive(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._failed.pop(key, None)

    def _forget(self, now: float) -> None:
        self._locked = {k: t for k, t in self._locked.items() if t > now}
        if len(self._failed) < self._max_keys:
            return
        self._failed = {k: t for k, t in self._failed.items() if t and t[-1] > now - self.window}
        if len(self._failed) >= self._max_keys:  # a flood of names: drop the oldest tenth
            oldest = sorted(self._failed, key=lambda k: self._failed[k][-1])
            for key in oldest[: max(1, self._max_keys // 10)]:
                del self._failed[key]
