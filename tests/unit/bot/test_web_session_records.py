"""Sessions kept in Köprü's store: a sign-out or an idle end holds across restarts and web
replicas (SQLite, and PostgreSQL in a throwaway database), and what the cookie carries is
still checked first (signature, expiry, the account's stamp)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sanic import Sanic

from bot.errors import StoreError
from bot.storage.store import Store
from bot.storage.tables import web_sessions
from bot.web.accounts import MIN_ITERATIONS, Account, hash_password, save_accounts
from bot.web.auth import SESSION_COOKIE
from bot.web.responses import text
from bot.web.server import WebSettings, create_app
from bot.web.session import Sessions, SessionSigner
from bot.web.session_records import SessionRecord, still_open
from tests.services import postgres_databases

SECRET = b"s" * 32
NOW = 1_900_000_000.0
STAMP = "0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database for one test, dropped afterwards."""
    with postgres_databases() as urls:
        yield from urls


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kopru.db'}"
    else:
        yield from postgres_database()


@pytest.fixture
def stores() -> Iterator[list[Store]]:
    """The stores a test opened (each as a process of its own would), closed after it."""
    made: list[Store] = []
    yield made
    for store in made:
        store.close()


def replica(stores: list[Store], url: str, clock: Clock, idle: int = 3600) -> Sessions:
    """A web process's sessions on the database of `url` (a new store, as after a start)."""
    store = Store(url)
    stores.append(store)
    return Sessions(SECRET, 8 * 3600, clock, idle, store=store)


def rows(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.select(web_sessions).order_by(web_sessions.c.created_at))
            return [dict(row._mapping) for row in found]
    finally:
        engine.dispose()


# --- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "now", "open_"),
    [
        (None, NOW, True),  # no row (lost): counts as used now
        (SessionRecord(last_seen=NOW - 3599, revoked=False), NOW, True),
        (SessionRecord(last_seen=NOW - 3600, revoked=False), NOW, False),  # idle an hour
        (SessionRecord(last_seen=NOW, revoked=True), NOW, False),  # signed out
        (SessionRecord(last_seen=NOW + 5, revoked=False), NOW, True),  # another's clock ahead
    ],
)
def test_still_open(record: SessionRecord | None, now: float, open_: bool) -> None:
    assert still_open(record, now, 3600) is open_


# --- on the database (SQLite, PostgreSQL) ----------------------------------------------------


def test_a_sign_out_holds_on_another_replica_and_after_a_restart(
    url: str, stores: list[Store], clock: Clock
) -> None:
    first, second = replica(stores, url, clock), replica(stores, url, clock)
    session, value = first.issue("ayse", "admin", STAMP)
    kept, kept_value = first.issue("victor", "viewer", STAMP)
    assert second.verify(value) == session  # the other replica knows the cookie
    clock.now += 60
    second.revoke(session)  # signed out there
    assert first.verify(value) is None
    assert second.verify(value) is None
    restarted = replica(stores, url, clock)
    assert restarted.verify(value) is None
    assert restarted.verify(kept_value) == kept  # other sessions go on
    stored = {row["id"]: row for row in rows(url)}
    assert stored[session.id]["revoked_at"] == NOW + 60
    assert stored[session.id]["username"] == "ayse"
    assert stored[kept.id]["revoked_at"] is None
    assert stored[kept.id]["last_seen_at"] == NOW + 60
    assert stored[kept.id]["expires_at"] == kept.expires == int(NOW) + 8 * 3600


def test_idle_is_counted_across_replicas_and_stays_ended(
    url: str, stores: list[Store], clock: Clock
) -> None:
    first, second = replica(stores, url, clock), replica(stores, url, clock)
    session, value = first.issue("ayse", "admin", STAMP)
    clock.now += 3000
    assert first.verify(value) == session
    clock.now += 3000  # 6000 s after sign-in, 3000 s after its last use (on the first)
    assert second.verify(value) == session
    clock.now += 3600  # unused for an hour
    assert second.verify(value) is None
    clock.now -= 1800  # the first replica, with a clock behind, still sees it ended
    assert first.verify(value) is None
    assert replica(stores, url, clock).verify(value) is None
    (row,) = rows(url)
    assert row["revoked_at"] == NOW + 9600  # ended when found idle


# --- SQLite only -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kopru.db'}"


def test_what_the_cookie_carries_is_checked_before_the_store(
    sqlite_url: str, stores: list[Store], clock: Clock
) -> None:
    sessions = replica(stores, sqlite_url, clock)
    session, value = sessions.issue("ayse", "admin", STAMP)
    payload, signature = value.rsplit(".", 1)
    assert sessions.verify(value) == session
    assert sessions.verify(payload + "." + signature[::-1]) is None  # tampered
    assert sessions.verify(payload + ".") is None
    other = Sessions(b"o" * 32, 8 * 3600, clock, store=sessions.records.store)
    assert other.verify(value) is None  # another secret
    clock.now += 8 * 3600  # expired, though the row says it was used
    assert sessions.verify(value) is None
    assert [row["revoked_at"] for row in rows(sqlite_url)] == [None]


def test_a_changed_password_changes_the_stamp_the_session_is_held_to(
    sqlite_url: str, stores: list[Store], clock: Clock
) -> None:
    sessions = replica(stores, sqlite_url, clock)
    old = hash_password("an old password", iterations=MIN_ITERATIONS)
    new = hash_password("a new password", iterations=MIN_ITERATIONS)
    signed_in = sessions.stamp("ayse", "admin", "password:" + old)
    _, value = sessions.issue("ayse", "admin", signed_in)
    verified = sessions.verify(value)
    assert verified is not None and verified.stamp == signed_in
    assert sessions.stamp("ayse", "admin", "password:" + old) == signed_in
    assert sessions.stamp("ayse", "admin", "password:" + new) != signed_in
    assert sessions.stamp("ayse", "viewer", "password:" + old) != signed_in
    assert (
        Sessions(b"o" * 32, 60, clock, store=sessions.records.store).stamp(
            "ayse", "admin", "password:" + old
        )
        != signed_in
    )


def test_expired_rows_go_when_someone_signs_in(
    sqlite_url: str, stores: list[Store], clock: Clock
) -> None:
    sessions = replica(stores, sqlite_url, clock)
    old, _ = sessions.issue("ayse", "admin", STAMP)
    sessions.revoke(old)
    clock.now += 8 * 3600
    new, _ = sessions.issue("victor", "viewer", STAMP)
    assert [row["id"] for row in rows(sqlite_url)] == [new.id]


def test_a_session_without_a_row_counts_as_used_now(
    sqlite_url: str, stores: list[Store], clock: Clock
) -> None:
    sessions = replica(stores, sqlite_url, clock)
    session, value = sessions.signer.issue(clock(), 3600, "ayse", "admin", STAMP)
    assert sessions.verify(value) == session
    (row,) = rows(sqlite_url)
    assert (row["id"], row["last_seen_at"], row["revoked_at"]) == (session.id, NOW, None)


# --- through the web app: two replicas on one database ---------------------------------------

PASSWORD = "ayse's long password"


@asynccontextmanager
async def served(directory: Path, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    settings = WebSettings(
        database_url=f"sqlite:///{directory / 'live.db'}",
        demo_database_url="sqlite://",
        admin_token="the-admin-token-0123456789",
        cookie_secret=SECRET,
        admins_file=directory / "admins.yml",
    )
    app = create_app(settings, clock=clock)

    async def me(request: Any) -> Any:
        return text(f"{request.ctx.session.username}\n", 200)

    app.add_route(me, "/test/me", methods=["GET"], name="test_me")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield client
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


async def sign_in(client: httpx.AsyncClient, password: str) -> str:
    form = await client.get("/login")
    csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = await client.post(
        "/login", data={"csrf": csrf, "username": "ayse", "password": password}
    )
    assert answer.status_code == 303, answer.text
    return client.cookies[SESSION_COOKIE]


async def test_replicas_share_sign_outs_and_password_changes(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One process starts several apps: Sanic's test mode, as sanic-testing sets it.
    monkeypatch.setattr(Sanic, "test_mode", True)
    accounts = tmp_path / "admins.yml"
    old = hash_password(PASSWORD, iterations=MIN_ITERATIONS)
    save_accounts(accounts, [Account("ayse", "admin", old)])
    async with served(tmp_path, clock) as first, served(tmp_path, clock) as second:
        cookie = await sign_in(first, PASSWORD)
        second.cookies.set(SESSION_COOKIE, cookie)
        assert (await second.get("/test/me")).text == "ayse\n"
        page = await first.get("/dashboard", params={"days": "1"})
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert (await first.post("/logout", data={"csrf": token})).status_code == 303
        assert (await second.get("/test/me")).status_code == 303  # to the login form
        async with served(tmp_path, clock) as started_later:  # as after a restart
            started_later.cookies.set(SESSION_COOKIE, cookie)
            assert (await started_later.get("/test/me")).status_code == 303
        # A password changed while signed in on the other replica ends that session too.
        second.cookies.clear()
        cookie = await sign_in(second, PASSWORD)
        first.cookies.clear()
        first.cookies.set(SESSION_COOKIE, cookie)
        assert (await first.get("/test/me")).status_code == 200
        new = hash_password("a new password", iterations=MIN_ITERATIONS)
        save_accounts(accounts, [Account("ayse", "admin", new)])
        assert (await first.get("/test/me")).status_code == 303
        assert (await second.get("/test/me")).status_code == 303


# --- while the store cannot be reached ---------------------------------------------------------


def test_without_the_store_this_process_still_ends_sessions(
    tmp_path: Path, stores: list[Store], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    sessions = replica(stores, f"sqlite:///{tmp_path}", clock)  # a directory: no database
    session, value = sessions.issue("ayse", "admin", STAMP)
    _, other_value = sessions.issue("victor", "viewer", STAMP)
    assert sessions.verify(value) == session  # signing in still works
    sessions.revoke(session)
    assert sessions.verify(value) is None
    clock.now += 3600
    assert sessions.verify(other_value) is None  # idle
    clock.now -= 1800
    assert sessions.verify(other_value) is None  # and stays ended
    warnings = [r for r in caplog.records if "checked by this process alone" in r.message]
    assert len(warnings) == 1


def test_a_sign_out_the_store_missed_is_written_when_it_is_back(
    sqlite_url: str, stores: list[Store], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = replica(stores, sqlite_url, clock), replica(stores, sqlite_url, clock)
    session, value = first.issue("ayse", "admin", STAMP)
    other, other_value = first.issue("victor", "viewer", STAMP)

    def unreachable(*_args: object) -> None:
        raise StoreError("the database is restarting")

    with monkeypatch.context() as patch:
        patch.setattr(first.records, "revoke", unreachable)
        first.revoke(session)
    assert first.verify(value) is None
    assert second.verify(value) == session  # the other replica could not know yet
    assert first.verify(other_value) is not None  # the store answers the first again...
    assert second.verify(value) is None  # ...which wrote the sign-out
    ended = {row["id"]: row["revoked_at"] is not None for row in rows(sqlite_url)}
    assert ended == {session.id: True, other.id: False}


def test_a_cookie_changed_only_in_base64s_spare_bits_is_refused() -> None:
    signer = SessionSigner(b"s" * 32)
    now = 1_000_000.0
    _session, value = signer.issue(now, 3600, "ayse", "admin", "a" * 16)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(value[-1])
    # The same 6-bit group but for its 2 lowest bits: decodes to the same signature bytes.
    twins = [alphabet[(last & ~3) | low] for low in range(4) if (last & ~3) | low != last]
    assert signer.verify(value, now) is not None
    for twin in twins:
        assert signer.verify(value[:-1] + twin, now) is None
