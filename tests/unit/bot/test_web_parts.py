"""The web app's pure parts: sessions, escaping, the period form, the report cache, settings."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from bot.errors import ConfigError
from bot.insights.analytics import Period
from bot.insights.metrics import Report
from bot.insights.periods import CLI_NAMES, PeriodError, parse_day_range
from bot.storage.store import Store
from bot.web.auth import safe_next
from bot.web.data import DataSources, ReportCache
from bot.web.html import Html, esc, render, table
from bot.web.session import Session, Sessions, SessionSigner
from bot.web.settings import WebSettings

SECRET = b"k" * 32
NOW = 1_800_000_000.0
TODAY = dt.date(2026, 11, 23)

# --- sessions --------------------------------------------------------------------------------


def test_a_session_cookie_verifies_until_it_expires() -> None:
    signer = SessionSigner(SECRET)
    session, value = signer.issue(NOW, 3600, "ayşe.k@x", "viewer", "0123456789abcdef")
    assert session.expires == int(NOW) + 3600
    assert (session.username, session.role, session.stamp) == (
        "ayşe.k@x",
        "viewer",
        "0123456789abcdef",
    )
    assert signer.verify(value, NOW) == session
    assert signer.verify(value, NOW + 3599) == session
    assert signer.verify(value, NOW + 3600) is None
    assert SessionSigner(b"x" * 32).verify(value, NOW) is None


def forged(value: str, index: int, new: object) -> str:
    """The cookie with a field of its payload changed and its signature kept."""
    codec = URLSafeSerializer(b"any key: only the payload's encoding is used")
    payload_text, signature = value.rsplit(".", 1)
    payload = codec.load_payload(payload_text.encode())
    assert isinstance(payload, list)
    payload[index] = new
    return codec.dump_payload(payload).decode() + "." + signature


@pytest.mark.parametrize(
    "change",
    [
        # Signed for another purpose (what another salt of the same secret signs).
        lambda v: URLSafeSerializer(
            SECRET, salt="kopru.web.csrf", signer_kwargs={"digest_method": hashlib.sha256}
        ).dumps(URLSafeSerializer(b"x").load_payload(v.rsplit(".", 1)[0].encode())),
        lambda v: forged(v, 0, int(NOW) + 7200),  # a later expiry
        lambda v: forged(v, 3, "admin"),  # a viewer making itself admin
        lambda v: forged(v, 2, "admin"),  # another username
        lambda v: v[:-2],
        lambda v: v + "0",
        lambda v: v + ".x",
        lambda v: "",
        lambda v: "a" * 300,
    ],
)
def test_a_changed_session_cookie_is_refused(change: object) -> None:
    signer = SessionSigner(SECRET)
    _, value = signer.issue(NOW, 3600, "ayse", "viewer", "0123456789abcdef")
    assert signer.verify(forged(value, 3, "viewer"), NOW) is not None  # forging is faithful
    assert callable(change)
    assert signer.verify(change(value), NOW) is None


def test_purposes_do_not_mix() -> None:
    signer = SessionSigner(SECRET)
    session, value = signer.issue(NOW, 3600, "ayse", "admin", "0123456789abcdef")
    # A CSRF token is no session signature, and the login token is tied to its nonce.
    forged = value.rsplit(".", 1)[0] + "." + signer.csrf_token(session)
    assert signer.verify(forged, NOW) is None
    assert signer.login_csrf_token(session.id) != signer.csrf_token(session)


def test_sign_out_revokes_and_csrf_is_per_session(tmp_path: Path) -> None:
    clock = [NOW]
    store = Store(f"sqlite:///{tmp_path / 'kopru.db'}")
    sessions = Sessions(SECRET, 3600, clock=lambda: clock[0], store=store)
    session, value = sessions.issue("ayse", "admin", "0123456789abcdef")
    other, _ = sessions.issue("ayse", "admin", "0123456789abcdef")
    assert sessions.verify(value) == session
    token = sessions.signer.csrf_token(session)
    assert sessions.csrf_ok(session, token)
    assert not sessions.csrf_ok(other, token)
    assert not sessions.csrf_ok(session, None)
    assert not sessions.csrf_ok(session, "")
    sessions.revoke(session)
    assert sessions.verify(value) is None
    clock[0] += 7200  # revocations are forgotten once the session would have expired anyway
    sessions.revoke(other)
    assert sessions.records.get(session.id) is None


def test_login_csrf_is_a_double_submit(tmp_path: Path) -> None:
    sessions = Sessions(SECRET, 3600, store=Store(f"sqlite:///{tmp_path / 'kopru.db'}"))
    nonce, token = sessions.new_login_nonce()
    assert sessions.login_csrf_ok(nonce, token)
    other, _ = sessions.new_login_nonce()
    assert not sessions.login_csrf_ok(other, token)
    assert not sessions.login_csrf_ok(None, token)
    assert not sessions.login_csrf_ok(nonce, None)
    assert not sessions.login_csrf_ok("bad nonce!", token)
    assert Session("x", 1, "a", "admin", "") != Session("y", 1, "a", "admin", "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "/dashboard"),
        ("", "/dashboard"),
        ("/dashboard?from=2026-11-01", "/dashboard?from=2026-11-01"),
        ("/admin/intents", "/admin/intents"),
        ("//evil.example/", "/dashboard"),
        ("/\\evil.example/", "/dashboard"),
        ("https://evil.example/", "/dashboard"),
        ("dashboard", "/dashboard"),
        ("/dash\nboard", "/dashboard"),
        ("/login?next=/x", "/dashboard"),
        ("/logout", "/dashboard"),
        ("/" + "a" * 3000, "/dashboard"),
    ],
)
def test_safe_next(raw: str | None, expected: str) -> None:
    assert safe_next(raw) == expected


# --- HTML ------------------------------------------------------------------------------------


def test_values_are_escaped_markup_is_not() -> None:
    assert esc('<a href="x">\'&') == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;"
    assert esc(Html("<b>")) == "<b>"
    assert render("<p>{}</p>", "<script>") == "<p>&lt;script&gt;</p>"
    assert render('<a href="{u}">{t}</a>', u='"onmouseover="x', t=Html("<i>ok</i>")) == (
        '<a href="&quot;onmouseover=&quot;x"><i>ok</i></a>'
    )
    assert isinstance(render("{}", 1), Html)


def test_table() -> None:
    html = table("By <channel>", ["name", "n"], [["<x>", 3]])
    assert "<caption>By &lt;channel&gt;</caption>" in html
    assert '<td class="text">&lt;x&gt;</td><td class="num">3</td>' in html
    empty = table("Weekly", ["a", "b", "c"], [])
    assert '<td class="empty" colspan="3">No data for this period.</td>' in empty


# --- periods ---------------------------------------------------------------------------------


def test_period_defaults_and_errors() -> None:
    days = parse_day_range(None, None, "30", TODAY)
    assert (days.first, days.last) == (dt.date(2026, 10, 25), TODAY)
    assert days.period == Period.of_dates(days.first, days.last)
    days = parse_day_range("", "2026-11-08", 7, TODAY)
    assert days.first == dt.date(2026, 11, 2)
    with pytest.raises(PeriodError, match="--from 2026-11-09 is after --to 2026-11-08"):
        parse_day_range("2026-11-09", "2026-11-08", "30", TODAY, names=CLI_NAMES)
    with pytest.raises(PeriodError, match="outside the calendar"):
        parse_day_range(None, "0001-01-02", "30", TODAY)
    with pytest.raises(PeriodError, match="outside the calendar"):
        parse_day_range(None, None, "999999999999", TODAY)
    with pytest.raises(PeriodError, match="whole number"):
        parse_day_range(None, None, "x", TODAY)


def test_period_in_another_zone() -> None:
    plus3 = dt.timezone(dt.timedelta(hours=3))
    days = parse_day_range("2026-11-02", "2026-11-02", "1", TODAY, tz=plus3)
    assert days.period.end - days.period.start == 86400
    assert days.period.start == dt.datetime(2026, 11, 1, 21, tzinfo=dt.timezone.utc).timestamp()


# --- the report cache ------------------------------------------------------------------------


def _report(period: Period) -> Report:
    from bot.insights.metrics import Figures

    return Report(period=period, overall=Figures())


async def test_the_cache_computes_once_per_minute_and_stays_small() -> None:
    calls: list[tuple[str, Period]] = []
    clock = [0.0]

    def compute(source: str, period: Period) -> Report:
        calls.append((source, period))
        return _report(period)

    cache = ReportCache(compute, ttl=60, size=2, clock=lambda: clock[0])
    week = Period(0, 7 * 86400)
    reports = await asyncio.gather(*(cache.report("live", week) for _ in range(7)))
    assert len(calls) == 1
    assert all(r is reports[0] for r in reports)
    await cache.report("demo", week)
    assert len(calls) == 2
    clock[0] = 59
    await cache.report("live", week)
    assert len(calls) == 2
    clock[0] = 60
    await cache.report("live", week)
    assert len(calls) == 3
    for start in (1, 2, 3):
        await cache.report("live", Period(start, 10))
    assert len(cache._entries) == 2


async def test_errors_are_not_cached() -> None:
    calls = []

    def compute(source: str, period: Period) -> Report:
        calls.append(source)
        if len(calls) == 1:
            raise RuntimeError("down")
        return _report(period)

    cache = ReportCache(compute)
    with pytest.raises(RuntimeError):
        await cache.report("live", Period(0, 1))
    assert (await cache.report("live", Period(0, 1))).period == Period(0, 1)


def test_demo_availability(tmp_path: Path) -> None:
    missing = DataSources("sqlite:///live.db", f"sqlite:///{tmp_path / 'demo.db'}")
    assert missing.available("live")
    assert not missing.available("demo")
    (tmp_path / "demo.db").write_bytes(b"")
    assert missing.available("demo")
    assert DataSources("x", "postgresql://db/demo").available("demo")
    assert not DataSources("x", "sqlite:///:memory:").available("demo")


# --- settings --------------------------------------------------------------------------------


def test_settings_from_env(tmp_path: Path) -> None:
    env = {"KOPRU_VAR_DIR": str(tmp_path), "KOPRU_API_TOKEN": "api-token"}
    settings = WebSettings.from_env(env)
    assert settings.admin_token == "api-token"
    assert not settings.admin_token_generated
    assert settings.database_url == f"sqlite:///{tmp_path / 'kopru.db'}"
    assert settings.demo_database_url == f"sqlite:///{tmp_path / 'demo.db'}"
    assert settings.admins_file == tmp_path / "admins.yml"
    assert WebSettings.from_env({**env, "KOPRU_ADMINS_FILE": "/etc/k.yml"}).admins_file == Path(
        "/etc/k.yml"
    )
    assert len(settings.cookie_secret) >= 32
    assert "api-token" not in repr(settings)
    assert settings.cookie_secret != WebSettings.from_env(env).cookie_secret  # per process

    settings = WebSettings.from_env(
        {**env, "KOPRU_ADMIN_TOKEN": "admin", "KOPRU_WEB_SECRET": "s" * 20},
        database_url="sqlite:///a.db",
        demo_database_url="sqlite:///b.db",
    )
    assert (settings.admin_token, settings.cookie_secret) == ("admin", b"s" * 20)
    assert (settings.database_url, settings.demo_database_url) == (
        "sqlite:///a.db",
        "sqlite:///b.db",
    )

    generated = WebSettings.from_env({"KOPRU_VAR_DIR": str(tmp_path)})
    assert generated.admin_token_generated
    assert len(generated.admin_token) >= 24

    with pytest.raises(ConfigError, match="KOPRU_WEB_SECRET"):
        WebSettings.from_env({**env, "KOPRU_WEB_SECRET": "short"})
    with pytest.raises(ConfigError, match="KOPRU_WEB_SECURE_COOKIES"):
        WebSettings.from_env({**env, "KOPRU_WEB_SECURE_COOKIES": "maybe"})
    assert WebSettings.from_env({**env, "KOPRU_WEB_SECURE_COOKIES": "true"}).secure_cookies
    assert WebSettings.from_env(env).proxies_count == 0
    assert WebSettings.from_env({**env, "KOPRU_WEB_PROXIES_COUNT": "1"}).proxies_count == 1
    for wrong in ("-1", "one", "1.5", "１"):
        with pytest.raises(ConfigError, match="KOPRU_WEB_PROXIES_COUNT"):
            WebSettings.from_env({**env, "KOPRU_WEB_PROXIES_COUNT": wrong})
