"""The web app over HTTP (sign-in, dashboard, charts) against temporary SQLite stores.

The app is served for real on 127.0.0.1 (sanic_testing is not installed) and spoken to
with httpx. The live store holds four conversations of 2026-11-02..08: one escalated and
resolved by agent U1 "Ayşe", and three surveys (NPS 10, 3, 9; CSAT 5, 2, 4), so:
NPS (2 promoters - 1 detractor) / 3 = 33.3, CSAT 2/3 = 66.7%, containment 3/4 = 75.0%.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sanic import Sanic

import bot.web.data
from bot.cli import build_parser
from bot.desk.handoff import Handoff, State
from bot.insights.charts import is_png
from bot.insights.survey import SurveyRecord
from bot.storage.store import Conversation, Outcome, Store
from bot.storage.tables import conversations, handoffs, surveys
from bot.web.app import SECURITY_HEADERS, STATIC_DIR
from bot.web.auth import LOGIN_COOKIE, SESSION_COOKIE
from bot.web.dashboard_view import CHARTS
from bot.web.server import WebSettings, create_app
from bot.web.session import SessionSigner

UTC = dt.timezone.utc
TOKEN = "right-token-0123456789"
SECRET = b"s" * 32
WEEK = {"from": "2026-11-02", "to": "2026-11-08"}
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}
XSS = "<script>alert(1)</script>"


def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=UTC).timestamp()


def conv(
    id: int,
    sender: str,
    channel: str,
    language: str,
    intents: list[str],
    outcome: str | None,
    start: float,
    first_answer: float | None,
) -> Conversation:
    return Conversation(
        id=id,
        sender_id=sender,
        session_started_at=start,
        channel=channel,
        language=language,
        intents=intents,
        outcome=outcome,
        started_at=start,
        last_message_at=start + 300,
        ended_at=start + 300,
        first_answer_seconds=first_answer,
    )


def resolved_handoff(id: int, c: Conversation, agent_id: str, agent_name: str) -> Handoff:
    created = c.started_at + 60
    return Handoff(
        id=id,
        reference=f"E-{id:06d}",
        sender_id=c.sender_id,
        session_started_at=c.session_started_at,
        conversation_id=c.id,
        channel=c.channel,
        language=c.language,
        reason="customer_request",
        state=State.RESOLVED,
        created_at=created,
        agent_id=agent_id,
        agent_name=agent_name,
        claimed_at=created + 60,
        ended_at=created + 660,
        ended_by=agent_id,
    )


def answered(id: int, c: Conversation, resolver: str, nps: int, csat: int) -> SurveyRecord:
    asked = c.started_at + 600
    return SurveyRecord(
        id=id,
        sender_id=c.sender_id,
        conversation_id=c.id,
        channel=c.channel,
        language=c.language,
        intents=list(c.intents),
        resolver=resolver,
        asked_at=asked,
        nps=nps,
        reason=None,
        csat=csat,
        answered_at=asked + 30,
        status="completed",
    )


def write(url: str, rows: Iterable[Conversation | Handoff | SurveyRecord]) -> str:
    store = Store(url)
    store.create_schema()
    with store.transaction() as conn:
        for row in rows:
            values: dict[str, Any] = dataclasses.asdict(row)
            if isinstance(row, Handoff):
                values.update(state=row.state.value, context=json.dumps(row.context))
                conn.execute(handoffs.insert().values(**values))
            elif isinstance(row, SurveyRecord):
                values["intents"] = json.dumps(row.intents)
                conn.execute(surveys.insert().values(**values))
            else:
                values["intents"] = json.dumps(row.intents)
                conn.execute(conversations.insert().values(**values))
    store.close()
    return url


def live_rows() -> list[Conversation | Handoff | SurveyRecord]:
    c1 = conv(1, "alice", "webchat", "en", ["order_status"], Outcome.RESOLVED_BOT, at(2, 10), 1.0)
    c2 = conv(2, "bob", "telegram", "tr", ["billing_question"], Outcome.ESCALATED, at(3, 9), 4.0)
    c3 = conv(
        3, "carol", "webchat", "pl", ["delivery_question"], Outcome.RESOLVED_BOT, at(4, 12), 3.0
    )
    c4 = conv(4, "dave", "rest", "en", [], Outcome.ABANDONED, at(5, 16), 2.0)
    return [
        c1,
        c2,
        c3,
        c4,
        resolved_handoff(1, c2, "U1", "Ayşe"),
        answered(1, c1, "bot", 10, 5),
        answered(2, c2, "U1", 3, 2),
        answered(3, c3, "bot", 9, 4),
    ]


def demo_rows() -> list[Conversation | Handoff | SurveyRecord]:
    d1 = conv(1, "demo-1", "webchat", "en", ["faq"], Outcome.RESOLVED_BOT, at(2, 11), 1.0)
    d2 = conv(2, "demo-2", "telegram", "pl", ["order_status"], Outcome.ESCALATED, at(6, 8), 1.0)
    return [d1, d2, resolved_handoff(1, d2, "U9", "Zofia")]


def settings(live: str, demo: str) -> WebSettings:
    return WebSettings(
        database_url=live, demo_database_url=demo, admin_token=TOKEN, cookie_secret=SECRET
    )


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # As sanic-testing does: Sanic 21.12 rewrites some of its methods when an app starts;
    # test mode keeps the originals so that one process can start many apps.
    monkeypatch.setattr(Sanic, "test_mode", True)


@pytest.fixture
def live_url(tmp_path: Path) -> str:
    return write(f"sqlite:///{tmp_path / 'live.db'}", live_rows())


@pytest.fixture
def demo_url(tmp_path: Path) -> str:
    return write(f"sqlite:///{tmp_path / 'demo.db'}", demo_rows())


@asynccontextmanager
async def served(web: WebSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(web)
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
async def client(live_url: str, demo_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with served(settings(live_url, demo_url)) as c:
        yield c


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, token: str = TOKEN, **extra: str) -> httpx.Response:
    """Sign in with the admin token (the username empty): the built-in admin."""
    form = await client.get("/login")
    assert form.status_code == 200
    data = {
        "csrf": form_csrf(form.text),
        "username": "",
        "password": token,
        "next": "/dashboard",
        **extra,
    }
    return await client.post("/login", data=data)


def tile(page: str, key: str) -> str:
    found = re.search(rf'id="tile-{key}">([^<]*)<', page)
    assert found, key
    return found.group(1)


def row(page: str, caption: str, first_cell: str) -> list[str]:
    """The cells of the row of table `caption` whose first cell is `first_cell` (as HTML)."""
    table = re.search(rf"<caption>{re.escape(caption)}.*?</table>", page, flags=re.S)
    assert table, caption
    for tr in re.findall(r"<tr>(.*?)</tr>", table.group(0)):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr)
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in {caption!r}")


# --- signing in ------------------------------------------------------------------------------


async def test_pages_need_a_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/dashboard", params=WEEK)
    assert page.status_code == 303
    assert (
        page.headers["location"] == "/login?next=%2Fdashboard%3Ffrom%3D2026-11-02%26to%3D2026-11-08"
    )
    assert (await client.get("/")).headers["location"].startswith("/login")
    chart = await client.get("/dashboard/charts/nps_per_week.png")
    assert chart.status_code == 401
    assert "image" not in chart.headers["content-type"]
    health = await client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    css = await client.get("/static/dashboard.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert (await client.get("/static/..%2Fapp.py")).status_code == 404
    assert (await client.get("/static/nope.css")).status_code == 404


async def test_wrong_token_shows_the_form_again(client: httpx.AsyncClient) -> None:
    answer = await sign_in(client, token="wrong-token-xyz")
    assert answer.status_code == 401
    assert "The username or password is not right." in answer.text
    assert 'name="password"' in answer.text
    assert "wrong-token-xyz" not in answer.text
    assert TOKEN not in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert (await client.get("/dashboard")).status_code == 303


async def test_login_needs_its_form_token(client: httpx.AsyncClient) -> None:
    form = await client.get("/login")
    # Forged elsewhere: no pre-login cookie, or a token that does not match it.
    other = httpx.AsyncClient(base_url=str(client.base_url))
    async with other:
        forged = await other.post("/login", data={"csrf": form_csrf(form.text), "password": TOKEN})
    assert forged.status_code == 403
    assert "expired" in forged.text
    wrong = await client.post("/login", data={"csrf": "0" * 64, "password": TOKEN})
    assert wrong.status_code == 403
    assert (await client.get("/dashboard")).status_code == 303


async def test_sign_in_and_out(client: httpx.AsyncClient) -> None:
    answer = await sign_in(client)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/dashboard"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"):
        assert attribute in cookie
    assert any(c.startswith(f"{LOGIN_COOKIE}=;") for c in answer.headers.get_list("set-cookie"))
    page = await client.get("/dashboard", params=WEEK)
    assert page.status_code == 200
    assert "Signed in as <strong>admin</strong>" in page.text
    # Signed in, the login page sends you on.
    assert (await client.get("/login")).headers["location"] == "/dashboard"
    assert (await client.get("/")).headers["location"] == "/dashboard"

    stolen = client.cookies[SESSION_COOKIE]
    refused = await client.post("/logout", data={"csrf": "not-the-token"})
    assert refused.status_code == 403
    out = await client.post("/logout", data={"csrf": form_csrf(page.text)})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert f"{SESSION_COOKIE}=;" in out.headers["set-cookie"]
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert SESSION_COOKIE not in client.cookies
    # The cookie of a signed-out session no longer works, even if copied before.
    client.cookies.set(SESSION_COOKIE, stolen)
    assert (await client.get("/dashboard")).status_code == 303
    # Signing out again (another tab) just shows the login form.
    again = await client.post("/logout", data={"csrf": form_csrf(page.text)})
    assert (again.status_code, again.headers["location"]) == (303, "/login")


async def test_next_page_after_sign_in(client: httpx.AsyncClient) -> None:
    answer = await sign_in(client, next="/dashboard?from=2026-11-02&to=2026-11-08")
    assert answer.headers["location"] == "/dashboard?from=2026-11-02&to=2026-11-08"
    client.cookies.clear()
    answer = await sign_in(client, next="//elsewhere.example/")
    assert answer.headers["location"] == "/dashboard"


def builtin_admin(signer: SessionSigner, now: float, lifetime: int) -> str:
    """A cookie for the built-in admin (signed in with TOKEN)."""
    stamp = signer.stamp("admin", "admin", "token:" + TOKEN)
    return signer.issue(now, lifetime, "admin", "admin", stamp)[1]


@pytest.mark.parametrize(
    "kind", ["tampered", "other secret", "expired", "other token", "garbage", "old format"]
)
async def test_bad_session_cookies_are_refused(client: httpx.AsyncClient, kind: str) -> None:
    now = time.time()
    if kind == "tampered":
        value = builtin_admin(SessionSigner(SECRET), now, 3600)
        value = value[:-1] + ("0" if value[-1] != "0" else "1")
    elif kind == "other secret":
        value = builtin_admin(SessionSigner(b"o" * 32), now, 3600)
    elif kind == "expired":
        value = builtin_admin(SessionSigner(SECRET), now - 9 * 3600, 8 * 3600)
    elif kind == "other token":  # signed in before the admin token changed
        signer = SessionSigner(SECRET)
        stamp = signer.stamp("admin", "admin", "token:old-token")
        value = signer.issue(now, 3600, "admin", "admin", stamp)[1]
    elif kind == "garbage":
        value = "v2.9999999999.x.y.z.w.v"
    else:
        value = "v1.9999999999.x.y"
    client.cookies.set(SESSION_COOKIE, value)
    assert (await client.get("/dashboard")).status_code == 303
    assert (await client.get("/dashboard/charts/nps_per_week.png")).status_code == 401
    # The same signer with the app's secret and a valid expiry is accepted.
    client.cookies.set(SESSION_COOKIE, builtin_admin(SessionSigner(SECRET), now, 3600))
    assert (await client.get("/dashboard", params=WEEK)).status_code == 200


# --- the dashboard ---------------------------------------------------------------------------


async def test_dashboard_shows_the_hand_computed_figures(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    page = await client.get("/dashboard", params=WEEK)
    assert page.status_code == 200
    text = page.text
    assert "Köprü — support dashboard" in text
    assert "2026-11-02 – 2026-11-08" in text
    assert tile(text, "conversations") == "4"
    assert tile(text, "containment") == "75.0%"
    assert tile(text, "escalation-rate") == "25.0%"
    assert tile(text, "fcr") == "100.0%"
    assert tile(text, "nps") == "33.3"
    assert "3 respondents: 2 promoters, 0 passives, 1 detractors" in text
    assert tile(text, "csat") == "66.7%"
    assert "3 answers" in text
    assert tile(text, "first-answer") == "2.5 s"
    assert "p90 3.7 s" in text
    assert tile(text, "queue-to-claim") == "1 min 00 s"
    assert tile(text, "handling") == "10 min 00 s"
    assert row(text, "By resolver", "Ayşe (U1)") == [
        "Ayşe (U1)",
        "1",
        "0.0%",
        "100.0%",
        "100.0%",
        "-100.0 (1)",
        "0.0% (1)",
    ]
    assert row(text, "By resolver", "bot")[1:3] == ["2", "100.0%"]
    assert row(text, "By channel", "telegram")[1] == "1"
    assert row(text, "By language", "pl")[5] == "100.0 (1)"  # carol's NPS 9
    assert row(text, "Weekly", "2026-W45")[:3] == ["2026-W45", "2026-11-02", "4"]
    assert row(text, "Topics that lead to escalation", "billing") == ["billing", "1", "1", "100.0%"]
    assert row(text, "Topics that lead to detractors", "billing")[1:] == ["1", "1", "100.0%"]
    for caption in (
        "By channel",
        "By language",
        "By topic",
        "By resolver",
        "Weekly",
        "Topics that lead to escalation",
        "Topics that lead to detractors",
    ):
        assert f"<caption>{caption}" in text
    for name in CHARTS:
        src = f'src="/dashboard/charts/{name}.png?from=2026-11-02&amp;to=2026-11-08&amp;data=live"'
        assert src in text
    assert text.count('<img src="/dashboard/charts/') == 6
    assert re.search(r'<img [^>]*alt="NPS per week, 2026-11-02 – 2026-11-08"', text)


async def test_a_period_without_rows_shows_zeros_and_dashes(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    page = await client.get("/dashboard", params=OCTOBER)
    assert page.status_code == 200
    assert tile(page.text, "conversations") == "0"
    for key in (
        "containment",
        "escalation-rate",
        "fcr",
        "nps",
        "csat",
        "first-answer",
        "queue-to-claim",
        "handling",
    ):
        assert tile(page.text, key) == "–", key
    assert "Ayşe" not in page.text
    assert "No data for this period." in page.text


async def test_default_period_is_the_last_30_days(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    today = dt.datetime.now(UTC).date()
    page = await client.get("/dashboard")
    assert page.status_code == 200
    first = (today - dt.timedelta(days=29)).isoformat()
    assert f'name="from" value="{first}"' in page.text
    assert f'name="to" value="{today.isoformat()}"' in page.text
    week = await client.get("/dashboard", params={"days": "7"})
    assert f'name="from" value="{(today - dt.timedelta(days=6)).isoformat()}"' in week.text
    for days in (7, 30, 90):
        assert f'href="/dashboard?days={days}&amp;data=live"' in page.text


async def test_charts_are_pngs_from_one_report(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = bot.web.data.report_from_store

    def counting(store: Store, period: Any) -> Any:
        calls.append(period)
        return real(store, period)

    monkeypatch.setattr(bot.web.data, "report_from_store", counting)
    await sign_in(client)
    assert (await client.get("/dashboard", params=WEEK)).status_code == 200
    for name in CHARTS:
        image = await client.get(f"/dashboard/charts/{name}.png", params={**WEEK, "data": "live"})
        assert image.status_code == 200, name
        assert image.headers["content-type"] == "image/png"
        assert is_png(image.content), name
        assert image.headers["x-content-type-options"] == "nosniff"
    assert len(calls) == 1  # the page and its six images share one computed report
    for wrong in ("nope.png", "nps_per_week", "nps_per_week.svg"):
        assert (await client.get(f"/dashboard/charts/{wrong}")).status_code == 404
    bad = await client.get("/dashboard/charts/nps_per_week.png", params={"from": "yesterday"})
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"from": "2026-13-01", "to": "2026-11-08"},
            "The start date must be a date as YYYY-MM-DD, got &#x27;2026-13-01&#x27;.",
        ),
        (
            {"from": "2026-11-09", "to": "2026-11-08"},
            "The start date 2026-11-09 is after the end date 2026-11-08.",
        ),
        ({"to": "9999-12-31"}, "The period is outside the calendar."),
        ({"days": "0"}, "The number of days must be 1 or more, got 0."),
        ({"data": "other"}, "Choose live or demo data."),
    ],
)
async def test_bad_queries_get_the_page_with_a_message(
    client: httpx.AsyncClient, query: dict[str, str], message: str
) -> None:
    await sign_in(client)
    page = await client.get("/dashboard", params=query)
    assert page.status_code == 400
    assert message in page.text
    assert "Traceback" not in page.text
    assert 'name="from"' in page.text  # the form, to correct it
    assert 'id="tile-' not in page.text


async def test_demo_switch_reads_the_demo_database(client: httpx.AsyncClient) -> None:
    await sign_in(client)
    live = await client.get("/dashboard", params=WEEK)
    assert '<option value="demo">Demo data</option>' in live.text
    demo = await client.get("/dashboard", params={**WEEK, "data": "demo"})
    assert demo.status_code == 200
    assert tile(demo.text, "conversations") == "2"
    assert "Zofia (U9)" in demo.text
    assert "Ayşe" not in demo.text
    assert '<option value="demo" selected>Demo data</option>' in demo.text
    assert "data=demo" in demo.text  # the chart images follow
    image = await client.get(
        "/dashboard/charts/nps_csat_by_resolver.png", params={**WEEK, "data": "demo"}
    )
    assert image.status_code == 200
    assert is_png(image.content)


async def test_no_demo_database_no_demo_choice(live_url: str, tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'absent' / 'demo.db'}"
    async with served(settings(live_url, missing)) as client:
        await sign_in(client)
        page = await client.get("/dashboard", params=WEEK)
        assert page.status_code == 200
        assert "<select" not in page.text
        asked = await client.get("/dashboard", params={**WEEK, "data": "demo"})
        assert asked.status_code == 400
        assert "kopru demo-data" in asked.text
    assert not (tmp_path / "absent").exists()  # asking did not create it


async def test_a_database_that_cannot_be_opened(tmp_path: Path, demo_url: str) -> None:
    # A directory is no SQLite file.
    async with served(settings(f"sqlite:///{tmp_path}", demo_url)) as client:
        await sign_in(client)
        page = await client.get("/dashboard", params=WEEK)
        assert page.status_code == 503
        assert "The live database cannot be opened or read" in page.text
        assert "Traceback" not in page.text
        image = await client.get("/dashboard/charts/nps_per_week.png", params=WEEK)
        assert image.status_code == 503
        # The demo data still works.
        demo = await client.get("/dashboard", params={**WEEK, "data": "demo"})
        assert demo.status_code == 200


async def test_text_from_the_store_is_escaped(tmp_path: Path, demo_url: str) -> None:
    c = conv(1, "x", XSS, "<b>", ["order_status"], Outcome.ESCALATED, at(3, 9), 1.0)
    h = resolved_handoff(1, c, '"><i>U', XSS)
    live = write(f"sqlite:///{tmp_path / 'xss.db'}", [c, h, answered(1, c, '"><i>U', 2, 1)])
    async with served(settings(live, demo_url)) as client:
        await sign_in(client)
        page = await client.get("/dashboard", params=WEEK)
        assert page.status_code == 200
        assert tile(page.text, "conversations") == "1"
        assert XSS not in page.text
        assert "<b>" not in page.text
        assert "<i>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; (&quot;&gt;&lt;i&gt;U)" in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page.text  # the channel
        assert "&lt;b&gt;</td>" in page.text  # the language
        # Typed values are escaped too.
        typed = await client.get("/dashboard", params={"from": '"><script>x</script>'})
        assert typed.status_code == 400
        assert "<script>" not in typed.text


async def test_security_headers_everywhere(client: httpx.AsyncClient) -> None:
    answers = [
        await client.get("/login"),
        await client.get("/health"),
        await client.get("/static/dashboard.css"),
        await client.get("/dashboard/charts/nps_per_week.png"),
    ]
    await sign_in(client)
    answers += [
        await client.get("/dashboard", params=WEEK),
        await client.get("/dashboard/charts/nps_per_week.png", params=WEEK),
        await client.get("/no/such/page"),
        await client.get("/dashboard", params={"from": "x"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 401, 200, 200, 404, 400]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.url, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'none'" in csp
    assert answers[4].headers["cache-control"] == "no-store"


async def test_no_external_urls(client: httpx.AsyncClient) -> None:
    login = await client.get("/login")
    await sign_in(client)
    pages = [login.text, (await client.get("/dashboard", params=WEEK)).text]
    pages += [(await client.get("/static/dashboard.css")).text]
    pages += [path.read_text(encoding="utf-8") for path in STATIC_DIR.iterdir()]
    for text in pages:
        assert "http://" not in text
        assert "https://" not in text
        assert "//" not in re.sub(r"/\*.*?\*/", "", text, flags=re.S).replace("<!doctype", "")


# --- kopru web -------------------------------------------------------------------------------


def test_web_command_defaults() -> None:
    args = build_parser().parse_args(["web"])
    assert (args.host, args.port, args.database, args.demo_database) == (
        "127.0.0.1",
        5057,
        None,
        None,
    )
    args = build_parser().parse_args(
        [
            "web",
            "--port",
            "6000",
            "--database",
            "sqlite:///a.db",
            "--demo-database",
            "sqlite:///b.db",
        ]
    )
    assert (args.port, args.database, args.demo_database) == (
        6000,
        "sqlite:///a.db",
        "sqlite:///b.db",
    )
