"""Dashboard accounts: password hashes, the accounts file, `kopru admin-user`, signing in with
an account or the admin token, the throttle, the guard of changes, and session lifetimes.

The app is served for real on 127.0.0.1 (as in test_web_dashboard) with a fake clock; a
test-only route /test/change, guarded by `admin_changes`, stands for the admin pages.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
import stat
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sanic import Sanic

from bot.cli import main
from bot.errors import ConfigError
from bot.web import accounts, auth
from bot.web.accounts import (
    MIN_ITERATIONS,
    Account,
    AccountStore,
    LoginThrottle,
    hash_password,
    load_accounts,
    parse_accounts,
    save_accounts,
    verify_password,
)
from bot.web.auth import (
    CSRF_HEADER,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    admin_changes,
    check_csrf,
    require_role,
)
from bot.web.responses import text
from bot.web.server import WebSettings, create_app

TOKEN = "the-admin-token-0123456789"
SECRET = b"a" * 32
START = 1_900_000_000.0
ADMIN_PASSWORD = "ayse's long password"
VIEWER_PASSWORD = "victor's long password"


def fast_hash(password: str) -> str:
    return hash_password(password, iterations=MIN_ITERATIONS)


def write_accounts(path: Path, *entries: Account) -> Path:
    save_accounts(path, entries)
    return path


AYSE = Account("ayse", "admin", fast_hash(ADMIN_PASSWORD))
VICTOR = Account("victor", "viewer", fast_hash(VIEWER_PASSWORD))


# --- passwords -------------------------------------------------------------------------------


def test_a_hash_verifies_its_password_only() -> None:
    encoded = fast_hash("correct horse")
    scheme, iterations, salt, digest = encoded.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", str(MIN_ITERATIONS))
    assert len(salt) == 24 and len(digest) == 44  # 16 and 32 bytes, base64
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert not verify_password("", encoded)
    assert fast_hash("correct horse") != encoded  # a new salt each time
    assert hash_password("x").split("$")[1] == "600000"
    with pytest.raises(ValueError, match="iterations"):
        hash_password("x", iterations=1000)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e[:-6] + ("AAAAA=" if not e.endswith("AAAAA=") else "BBBBB="),  # the hash
        lambda e: e.replace(e.split("$")[2], "AAAAAAAAAAAAAAAAAAAAAA==", 1),  # the salt
        lambda e: e.replace(f"${MIN_ITERATIONS}$", f"${MIN_ITERATIONS + 1}$", 1),
        lambda e: e.replace(f"${MIN_ITERATIONS}$", "$1000$", 1),  # too few: refused
        lambda e: e.replace("pbkdf2_sha256", "pbkdf2_sha1", 1),  # unknown scheme
        lambda e: "bcrypt$2b$12$abcdefghijklmnopqrstuv",
        lambda e: e.replace("$", "!"),
        lambda e: e + "$",
        lambda e: e[: e.rindex("$") + 1] + "not*base64",
        lambda e: "",
    ],
)
def test_a_changed_or_foreign_hash_matches_nothing(change: Callable[[str], str]) -> None:
    encoded = fast_hash("correct horse")
    assert not verify_password("correct horse", change(encoded))


# --- the accounts file -----------------------------------------------------------------------


def test_accounts_round_trip_through_the_file(tmp_path: Path) -> None:
    path = write_accounts(tmp_path / "sub" / "admins.yml", AYSE, VICTOR)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_accounts(path) == (AYSE, VICTOR)
    assert path.read_text(encoding="utf-8").startswith("# Köprü dashboard accounts")
    assert ADMIN_PASSWORD not in path.read_text(encoding="utf-8")
    assert "pbkdf2" not in repr(AYSE)
    assert load_accounts(tmp_path / "missing.yml") == ()
    assert parse_accounts("", "x") == ()
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{username: ayse}", "must be a list of accounts"),
        ("- [ayse]", "account 1 must be a mapping"),
        ("- {username: ayse, role: admin, password: HASH, email: a@b}", "unknown keys: email"),
        ("- {username: Ayse, role: admin, password: HASH}", "username must be 1 to 64 lowercase"),
        ("- {username: '', role: admin, password: HASH}", "username must be"),
        ("- {username: ayse, role: root, password: HASH}", r"account 1 \(ayse\): the role must"),
        ("- {username: ayse, role: admin, password: secret}", "the password hash is not"),
        ("- {username: ayse, role: admin, password: 'md5$1$a$b'}", "unknown scheme 'md5'"),
        ("- {username: ayse, role: admin}", "the password must be a hash"),
        (
            "- {username: ayse, role: admin, password: HASH}\n"
            "- {username: ayse, role: viewer, password: HASH}",
            "'ayse' appears twice",
        ),
        ("- {username: ayse\n", "is not valid YAML"),
    ],
)
def test_a_broken_accounts_file_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "admins.yml"
    path.write_text(text.replace("HASH", AYSE.password), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_accounts(path)
    assert str(path) in str(caught.value)
    assert AYSE.password not in str(caught.value)
    # The web app does not start with it.
    settings = WebSettings(
        database_url="sqlite://",
        demo_database_url="sqlite://",
        admin_token=TOKEN,
        cookie_secret=SECRET,
        admins_file=path,
    )
    with pytest.raises(ConfigError, match=message):
        create_app(settings)


def test_the_store_rereads_a_changed_file_and_fails_closed(tmp_path: Path) -> None:
    path = write_accounts(tmp_path / "admins.yml", AYSE)
    store = AccountStore(path)
    assert store.get("ayse") == AYSE
    write_accounts(path, AYSE, VICTOR)
    assert store.get("victor") == VICTOR
    path.write_text("- {username: ayse, role: admin, password: nope}\n", encoding="utf-8")
    assert store.get("ayse") is None  # broken while serving: no file accounts
    path.unlink()
    assert store.all() == ()
    write_accounts(path, VICTOR)
    assert store.all() == (VICTOR,)
    assert AccountStore(None).get("ayse") is None


# --- kopru admin-user ------------------------------------------------------------------------


def kopru(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["admin-user", *argv])


def test_admin_user_add_list_passwd_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(accounts, "ITERATIONS", MIN_ITERATIONS)
    path = tmp_path / "var" / "admins.yml"
    monkeypatch.setenv("KOPRU_ADMINS_FILE", str(path))
    assert kopru(monkeypatch, "list") == 0
    assert "No accounts" in capsys.readouterr().out

    assert kopru(monkeypatch, "add", "Ayse", "--password-stdin", stdin="first password!\n") == 0
    assert "Added ayse (admin)" in capsys.readouterr().out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    args = ["add", "victor", "--role", "viewer", "--password-stdin", "--file", str(path)]
    assert kopru(monkeypatch, *args, stdin="victor's password\r\n") == 0
    (ayse, victor) = load_accounts(path)
    assert (ayse.username, ayse.role, victor.role) == ("ayse", "admin", "viewer")
    assert verify_password("first password!", ayse.password)
    assert verify_password("victor's password", victor.password)
    capsys.readouterr()
    assert kopru(monkeypatch, "list") == 0
    assert capsys.readouterr().out == "ayse\tadmin\nvictor\tviewer\n"

    assert kopru(monkeypatch, "passwd", "ayse", "--password-stdin", stdin="second password\n") == 0
    (ayse2, _) = load_accounts(path)
    assert verify_password("second password", ayse2.password)
    assert not verify_password("first password!", ayse2.password)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    assert kopru(monkeypatch, "remove", "victor") == 0
    assert [a.username for a in load_accounts(path)] == ["ayse"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["admins.yml"]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["add", "ayse", "--password-stdin"], "another password\n", "ayse exists already"),
        (["add", "bob", "--password-stdin"], "short\n", "12 characters or longer"),
        (["add", "bob", "--password-stdin"], "", "12 characters or longer"),
        (["add", "bob", "--password-stdin"], "Bob" + " " * 10 + "\n", "not be the username"),
        (["add", "bad name", "--password-stdin"], "long enough password\n", "a username must"),
        (["remove", "bob"], "", "no account bob"),
        (["passwd", "bob", "--password-stdin"], "long enough password\n", "no account bob"),
    ],
)
def test_admin_user_refuses_bad_requests(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    path = write_accounts(tmp_path / "admins.yml", AYSE)
    before = path.read_bytes()
    assert kopru(monkeypatch, *argv, "--file", str(path), stdin=stdin) == 2
    assert message in capsys.readouterr().err
    assert path.read_bytes() == before


def test_admin_user_asks_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(accounts, "ITERATIONS", MIN_ITERATIONS)
    path = tmp_path / "admins.yml"
    answers = iter(["a long password 1", "a long password 2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    assert kopru(monkeypatch, "add", "ayse", "--file", str(path)) == 2
    assert "differ" in capsys.readouterr().err
    assert not path.exists()
    answers = iter(["a long password 1", "a long password 1"])
    assert kopru(monkeypatch, "add", "ayse", "--file", str(path)) == 0
    assert verify_password("a long password 1", load_accounts(path)[0].password)


def test_admin_user_on_a_broken_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "admins.yml"
    path.write_text("nope: [", encoding="utf-8")
    assert kopru(monkeypatch, "list", "--file", str(path)) == 1
    assert "not valid YAML" in capsys.readouterr().err


# --- the throttle ----------------------------------------------------------------------------


def test_the_throttle_blocks_after_five_failures_in_five_minutes() -> None:
    clock = [START]
    throttle = LoginThrottle(clock=lambda: clock[0])
    keys = ("user:ayse", "address:1")
    for _ in range(4):
        throttle.failed(keys)
        clock[0] += 70
    assert throttle.retry_after(keys) == 0
    clock[0] += 30  # the first failure is now over five minutes old
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 0
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 60
    assert throttle.retry_after(["user:ayse"]) == 60
    assert throttle.retry_after(["user:other"]) == 0
    clock[0] += 60
    assert throttle.retry_after(keys) == 0
    throttle.failed(["user:x"])
    throttle.succeeded(["user:x"])
    assert "user:x" not in throttle._failed


def test_attempts_under_way_count_before_their_outcome() -> None:
    clock = [START]
    throttle = LoginThrottle(clock=lambda: clock[0])
    keys = ("user:ayse", "address:1")
    for _ in range(5):
        assert throttle.reserve(keys) == 0
    assert throttle.reserve(keys) == 60  # five under way would lock it: the sixth waits
    assert throttle.reserve(["user:ayse"]) == 60 and throttle.reserve(["address:1"]) == 60
    assert throttle.reserve(["user:other", "address:2"]) == 0
    throttle.settle(["user:other", "address:2"], failed=False)
    for _ in range(4):
        throttle.settle(keys, failed=True)
    throttle.settle(keys, failed=False, forgive=keys[:1])  # the fifth was right
    assert throttle.retry_after(keys) == 0
    assert "user:ayse" not in throttle._failed  # forgiven; the address keeps its four
    assert throttle.reserve(["address:1"]) == 0
    throttle.settle(["address:1"], failed=True)
    assert throttle.retry_after(["address:1"]) == 60
    assert throttle.reserve(keys) == 60
    assert not throttle._pending


def test_the_throttle_keys_keep_the_accounts_and_the_token_apart() -> None:
    assert auth.throttle_keys("ayse", "10.0.0.1") == ("user:ayse", "address:10.0.0.1")
    assert auth.throttle_keys("", "10.0.0.1") == ("user:", "token-address:10.0.0.1")


# --- over HTTP -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@admin_changes
async def change(request: Any) -> Any:
    return text(f"changed by {request.ctx.session.username}\n", 200)


async def viewer_page(request: Any) -> Any:
    session = require_role(request, "viewer")
    return text(f"hello {session.username}\n", 200)


async def csrf_only(request: Any) -> Any:
    check_csrf(request)
    return text("ok\n", 200)


@asynccontextmanager
async def served(
    admins: Path | None, clock: Clock, directory: Path | None = None, proxies_count: int = 0
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the accounts file `admins`, its live store in `directory` (else beside
    the accounts file): the sessions are kept there, so it must be a file. `proxies_count`:
    the proxies whose X-Forwarded-For the app trusts."""
    directory = directory or (admins.parent if admins else None)
    assert directory is not None
    settings = WebSettings(
        database_url=f"sqlite:///{directory / 'live.db'}",
        demo_database_url="sqlite://",
        admin_token=TOKEN,
        cookie_secret=SECRET,
        admins_file=admins,
        proxies_count=proxies_count,
    )
    app = create_app(settings, clock=clock)
    app.add_route(change, "/test/change", methods=["GET", "POST", "DELETE"], name="test_change")
    app.add_route(viewer_page, "/test/viewer", methods=["GET"], name="test_viewer")
    app.add_route(csrf_only, "/test/csrf", methods=["POST"], name="test_csrf")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def admins(tmp_path: Path) -> Path:
    return write_accounts(tmp_path / "admins.yml", AYSE, VICTOR)


@pytest.fixture
async def client(admins: Path, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    async with served(admins, clock) as c:
        yield c


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    form = await client.get("/login", headers=headers)
    assert form.status_code == 200
    data = {"csrf": form_csrf(form.text), "username": username, "password": password}
    return await client.post("/login", data=data, headers=headers)


async def page_csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/dashboard", params={"days": "1"})
    assert page.status_code == 200
    return form_csrf(page.text)


def error_of(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', page)
    assert found, page
    return found.group(1)


async def test_the_login_form_explains_the_token_bootstrap(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    assert 'name="username"' in form.text
    assert 'name="password" type="password"' in form.text
    assert "Leave the username empty and enter the admin token" in form.text
    assert "<code>kopru run</code>" in form.text
    cookie = form.headers["set-cookie"]
    assert f"{LOGIN_COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # No other site may frame the form (clickjacking).
    policy = [p.strip() for p in form.headers["content-security-policy"].split(";")]
    assert "frame-ancestors 'none'" in policy
    assert form.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("username", "password", "role"),
    [
        ("ayse", ADMIN_PASSWORD, "admin"),
        (" AYSE ", ADMIN_PASSWORD, "admin"),  # names are lowercase; spaces around do not count
        ("victor", VIEWER_PASSWORD, "viewer"),
        ("", TOKEN, "admin"),  # the bootstrap: the built-in admin
    ],
)
async def test_sign_in_with_an_account_or_the_token(
    client: httpx.AsyncClient, username: str, password: str, role: str
) -> None:
    answer = await sign_in(client, username, password)
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"):
        assert attribute in session
    page = await client.get("/dashboard", params={"days": "1"})
    name = username.strip().lower() or "admin"
    assert f"Signed in as <strong>{name}</strong>" in page.text
    assert f'<span class="role role-{role}">{role}</span>' in page.text
    assert 'action="/logout"' in page.text
    viewer = await client.get("/test/viewer")
    assert viewer.text == f"hello {name}\n"


async def test_failed_sign_ins_all_look_the_same(client: httpx.AsyncClient) -> None:
    answers = [
        await sign_in(client, "ayse", "wrong password"),
        await sign_in(client, "nobody", ADMIN_PASSWORD),
        await sign_in(client, "", "wrong token"),
        await sign_in(client, "ayse", TOKEN),  # the token is no account's password
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert error_of(answer.text) == "The username or password is not right."
        assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
        for secret in (ADMIN_PASSWORD, TOKEN, "wrong password", "wrong token"):
            assert secret not in answer.text
    assert 'value="nobody"' in answers[1].text  # the name is kept, never the password
    assert (await client.get("/dashboard")).status_code == 303


async def test_too_many_failures_get_429_for_a_minute(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    for _ in range(5):
        assert (await sign_in(client, "ayse", "wrong password")).status_code == 401
    blocked = await sign_in(client, "ayse", ADMIN_PASSWORD)  # even the right password
    assert blocked.status_code == 429
    assert blocked.headers["retry-after"] == "60"
    assert "Too many failed sign-ins" in error_of(blocked.text)
    # The address is blocked too (another name from the same place).
    assert (await sign_in(client, "victor", VIEWER_PASSWORD)).status_code == 429
    clock.now += 61
    assert (await sign_in(client, "ayse", ADMIN_PASSWORD)).status_code == 303


async def test_wrong_passwords_sent_at_once_are_throttled(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_verify(password: str, encoded: str) -> bool:
        time.sleep(0.3)  # as slow as the real hash (600 000 rounds: about 1.4 s)
        return verify_password(password, encoded)

    monkeypatch.setattr(auth, "verify_password", slow_verify)
    form = await client.get("/login")
    data = {"csrf": form_csrf(form.text), "username": "ayse", "password": "wrong password"}
    answers = await asyncio.gather(*(client.post("/login", data=data) for _ in range(20)))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(429) >= 15, statuses
    assert set(statuses) == {401, 429}
    assert all(a.headers["retry-after"] == "60" for a in answers if a.status_code == 429)
    assert (await sign_in(client, "ayse", ADMIN_PASSWORD)).status_code == 429


async def test_failures_at_an_account_do_not_lock_out_the_built_in_admin(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(5):
        assert (await sign_in(client, "ayse", "wrong password")).status_code == 401
    assert (await sign_in(client, "victor", VIEWER_PASSWORD)).status_code == 429
    assert (await sign_in(client, "", TOKEN)).status_code == 303


async def test_failures_at_the_token_do_not_lock_out_the_accounts(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(5):
        assert (await sign_in(client, "", "wrong token")).status_code == 401
    assert (await sign_in(client, "", TOKEN)).status_code == 429
    assert (await sign_in(client, "ayse", ADMIN_PASSWORD)).status_code == 303


async def test_behind_a_proxy_each_client_address_is_counted(admins: Path, clock: Clock) -> None:
    mallory = {"X-Forwarded-For": "203.0.113.7"}
    alice = {"X-Forwarded-For": "198.51.100.2"}
    # Mallory forges a first entry; the proxy appended the address it saw, and that counts.
    forged = {"X-Forwarded-For": "198.51.100.2, 203.0.113.7"}
    async with served(admins, clock, proxies_count=1) as client:
        for name in ("a", "b", "c", "d", "e"):
            assert (await sign_in(client, name, "guess", headers=mallory)).status_code == 401
        assert (await sign_in(client, "victor", VIEWER_PASSWORD, mallory)).status_code == 429
        assert (await sign_in(client, "victor", VIEWER_PASSWORD, forged)).status_code == 429
        # Another client of the same proxy (the socket's peer is 127.0.0.1 for both).
        assert (await sign_in(client, "victor", VIEWER_PASSWORD, alice)).status_code == 303


async def test_without_proxies_a_forwarded_header_is_not_believed(
    client: httpx.AsyncClient,
) -> None:
    for number in range(5):
        forged = {"X-Forwarded-For": f"203.0.113.{number}"}
        assert (await sign_in(client, f"name{number}", "guess", forged)).status_code == 401
    other = {"X-Forwarded-For": "198.51.100.2"}
    assert (await sign_in(client, "victor", VIEWER_PASSWORD, other)).status_code == 429


async def test_changes_need_a_session_the_admin_role_and_the_csrf_token(
    client: httpx.AsyncClient, admins: Path
) -> None:
    # No session: 401 for a change, the login form for a page.
    refused = await client.post("/test/change", data={"x": "1"})
    assert refused.status_code == 401
    assert "Please sign in first." in refused.text
    assert (await client.delete("/test/change")).status_code == 401
    page = await client.get("/test/change")
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Ftest%2Fchange")

    # A viewer may look but not change, even with its CSRF token.
    await sign_in(client, "victor", VIEWER_PASSWORD)
    token = await page_csrf(client)
    assert (await client.get("/test/change")).status_code == 200
    viewer = await client.post("/test/change", data={"csrf": token})
    assert viewer.status_code == 403
    assert "Your role (viewer) may look but not change anything." in viewer.text
    assert "Signed in as <strong>victor</strong>" in viewer.text
    assert (await client.post("/test/csrf", data={"csrf": token})).status_code == 200

    # An admin needs the session's CSRF token, in the form or in the header.
    client.cookies.clear()
    await sign_in(client, "ayse", ADMIN_PASSWORD)
    without = await client.post("/test/change", data={"x": "1"})
    assert without.status_code == 403
    assert "This form has expired" in without.text
    assert (await client.post("/test/change", data={"csrf": token})).status_code == 403  # other
    assert (await client.post("/test/csrf", data={"csrf": ""})).status_code == 403
    token = await page_csrf(client)
    done = await client.post("/test/change", data={"csrf": token})
    assert (done.status_code, done.text) == (200, "changed by ayse\n")
    header = await client.delete("/test/change", headers={CSRF_HEADER: token})
    assert header.status_code == 200
    assert done.headers["x-frame-options"] == "DENY"  # the usual headers on guarded answers
    assert without.headers["cache-control"] == "no-store"


async def test_the_built_in_admin_may_change(client: httpx.AsyncClient) -> None:
    await sign_in(client, "", TOKEN)
    token = await page_csrf(client)
    assert (await client.post("/test/change", data={"csrf": token})).status_code == 200


async def test_a_changed_account_ends_its_sessions(client: httpx.AsyncClient, admins: Path) -> None:
    await sign_in(client, "ayse", ADMIN_PASSWORD)
    assert (await client.get("/dashboard")).status_code == 200
    write_accounts(admins, Account("ayse", "viewer", AYSE.password), VICTOR)  # demoted
    assert (await client.get("/dashboard")).status_code == 303
    await sign_in(client, "ayse", ADMIN_PASSWORD)
    assert "role-viewer" in (await client.get("/dashboard")).text
    write_accounts(admins, Account("ayse", "viewer", fast_hash("a new password")), VICTOR)
    assert (await client.get("/dashboard")).status_code == 303  # new password
    await sign_in(client, "ayse", "a new password")
    assert (await client.get("/dashboard")).status_code == 200
    write_accounts(admins, VICTOR)  # removed
    assert (await client.get("/dashboard")).status_code == 303
    assert (await sign_in(client, "ayse", "a new password")).status_code == 401


async def test_an_account_named_admin_and_the_token_do_not_mix(
    tmp_path: Path, clock: Clock
) -> None:
    viewer_admin = Account("admin", "viewer", fast_hash(ADMIN_PASSWORD))
    path = write_accounts(tmp_path / "admins.yml", viewer_admin)
    async with served(path, clock) as client:
        await sign_in(client, "admin", ADMIN_PASSWORD)
        token = await page_csrf(client)
        assert (await client.post("/test/change", data={"csrf": token})).status_code == 403
        client.cookies.clear()
        await sign_in(client, "", TOKEN)
        token = await page_csrf(client)
        assert (await client.post("/test/change", data={"csrf": token})).status_code == 200


async def test_sessions_end_when_idle_and_when_they_expire(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    await sign_in(client, "victor", VIEWER_PASSWORD)
    for _ in range(9):  # used every 59 minutes: kept, up to 8 hours after sign-in
        clock.now += 59 * 60
        if clock.now - START >= 8 * 3600:
            break
        assert (await client.get("/test/viewer")).status_code == 200
    assert clock.now - START >= 8 * 3600
    assert (await client.get("/test/viewer")).status_code == 303  # expired

    await sign_in(client, "victor", VIEWER_PASSWORD)
    clock.now += 3599
    assert (await client.get("/test/viewer")).status_code == 200
    clock.now += 3600  # an hour without a request
    assert (await client.get("/test/viewer")).status_code == 303
    clock.now -= 3600  # and it stays ended
    assert (await client.get("/test/viewer")).status_code == 303


async def test_signing_out_ends_the_session(client: httpx.AsyncClient) -> None:
    await sign_in(client, "ayse", ADMIN_PASSWORD)
    token = await page_csrf(client)
    copied = client.cookies[SESSION_COOKIE]
    out = await client.post("/logout", data={"csrf": token})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    client.cookies.set(SESSION_COOKIE, copied)
    assert (await client.post("/test/change", data={"csrf": token})).status_code == 401


async def test_without_an_accounts_file_the_token_still_signs_in(
    clock: Clock, tmp_path: Path
) -> None:
    async with served(None, clock, tmp_path) as client:
        assert (await sign_in(client, "ayse", ADMIN_PASSWORD)).status_code == 401
        assert (await sign_in(client, "", TOKEN)).status_code == 303
