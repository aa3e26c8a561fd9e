"""The admin pages over HTTP: intents and examples, answers, training and models, review.

Every test works on a copy of the project (data/, domain.yml, config.yml, kopru.yml,
endpoints.yml) in tmp_path; the app is served for real on 127.0.0.1 (as in
test_web_dashboard). Training runs a small script instead of `rasa train` (it prints Rasa's
progress lines and saves a fake archive); the Rasa server is a tiny aiohttp app that
answers PUT /model and GET /status like Rasa does.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiohttp import web
from sanic import Sanic

import bot.authoring.trainer
from bot.authoring.training import model_path
from bot.desk.handoff import HandoffRepository
from bot.insights.survey import SurveyRepository
from bot.settings import PROJECT_ROOT
from bot.storage.store import Store
from bot.storage.trackers import events
from bot.web.accounts import MIN_ITERATIONS, Account, hash_password, save_accounts
from bot.web.admin_context import AdminContext
from bot.web.server import WebSettings, create_app

TOKEN = "the-admin-token-0123456789"
RASA_TOKEN = "the-rasa-api-token-42"
SECRET = b"s" * 32
VIEWER_PASSWORD = "victor's long password"
OLD_MODEL = "kopru-0000000000000000.tar.gz"


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Sanic, "test_mode", True)


# --- the project copy, stores and fakes ------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    for name in ("domain.yml", "config.yml", "kopru.yml", "endpoints.yml"):
        shutil.copy2(PROJECT_ROOT / name, root / name)
    return root


def read(root: Path, relative: str) -> str:
    return (root / relative).read_text(encoding="utf-8")


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@dataclass
class FakeRasa:
    url: str = ""
    current: str | None = None
    loads: list[str] = field(default_factory=list)


@asynccontextmanager
async def fake_rasa(current: str | None) -> AsyncIterator[FakeRasa]:
    """PUT /model loads a file that exists (204), GET /status tells which one is loaded."""
    state = FakeRasa(current=current)

    async def put_model(request: web.Request) -> web.Response:
        if request.query.get("token") != RASA_TOKEN:
            return web.json_response({"message": "User is not authenticated."}, status=401)
        path = Path((await request.json())["model_file"])
        state.loads.append(path.name)
        if not await asyncio.to_thread(path.is_file):
            return web.json_response({"message": "No model found"}, status=400)
        state.current = path.name
        return web.Response(status=204)

    async def status(request: web.Request) -> web.Response:
        if request.query.get("token") != RASA_TOKEN:
            return web.json_response({"message": "User is not authenticated."}, status=401)
        if state.current is None:
            return web.json_response({"message": "No agent loaded."}, status=409)
        return web.json_response({"model_file": state.current, "model_id": "x"})

    app = web.Application()
    app.router.add_put("/model", put_model)
    app.router.add_get("/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


@dataclass
class Served:
    client: httpx.AsyncClient
    app: Sanic

    @property
    def admin(self) -> AdminContext:
        admin = self.app.ctx.admin
        assert isinstance(admin, AdminContext)
        return admin


def settings(tmp_path: Path, project: Path, rasa_url: str) -> WebSettings:
    admins = tmp_path / "admins.yml"
    viewer = Account("victor", "viewer", hash_password(VIEWER_PASSWORD, iterations=MIN_ITERATIONS))
    save_accounts(admins, [viewer])
    return WebSettings(
        database_url=f"sqlite:///{tmp_path / 'live.db'}",
        demo_database_url="sqlite://",
        admin_token=TOKEN,
        cookie_secret=SECRET,
        admins_file=admins,
        project_root=project,
        models_dir=tmp_path / "models",
        rasa_url=rasa_url,
        rasa_token=RASA_TOKEN,
        tracker_db_url=f"sqlite:///{tmp_path / 'tracker.db'}",
    )


@asynccontextmanager
async def served(web_settings: WebSettings) -> AsyncIterator[Served]:
    app = create_app(web_settings)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield Served(client, app)
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
        sock.close()


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    async with fake_rasa(None) as state:
        yield state


@pytest.fixture
async def site(tmp_path: Path, project: Path, rasa: FakeRasa) -> AsyncIterator[Served]:
    async with served(settings(tmp_path, project, rasa.url)) as s:
        yield s


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, username: str = "", password: str = TOKEN) -> str:
    """Sign in (no username: the built-in admin with the token); the session's CSRF token."""
    form = await client.get("/login")
    data = {"csrf": form_csrf(form.text), "username": username, "password": password}
    assert (await client.post("/login", data=data)).status_code == 303
    page = await client.get("/admin/intents")
    assert page.status_code == 200
    return form_csrf(page.text)


def text_of(page: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", page))


def problems(page: str) -> list[str]:
    return [unescape(p) for p in re.findall(r'<li class="problem problem-\w+">(.*?)</li>', page)]


# --- who may do what ---------------------------------------------------------------------------


ADMIN_PAGES = [
    "/admin/intents",
    "/admin/intents/greet",
    "/admin/intents/new",
    "/admin/answers",
    "/admin/answers/utter_greet",
    "/admin/training",
    "/admin/review",
]
CHANGES = [
    "/admin/intents/greet",
    "/admin/intents/new",
    "/admin/answers/utter_greet",
    "/admin/training",
    "/admin/review/add",
]


async def test_signed_out_pages_redirect_and_changes_get_401(site: Served) -> None:
    for path in ADMIN_PAGES:
        answer = await site.client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=%2Fadmin%2F")
    for path in CHANGES:
        answer = await site.client.post(path, data={"op": "add", "action": "save"})
        assert answer.status_code == 401, path


async def test_viewers_see_everything_but_no_change_buttons(
    site: Served, project: Path, rasa: FakeRasa
) -> None:
    csrf = await sign_in(site.client, "victor", VIEWER_PASSWORD)
    for path in ADMIN_PAGES:
        page = await site.client.get(path)
        assert page.status_code == 200, path
        assert 'name="action" value="save"' not in page.text, path
        assert 'name="op"' not in page.text, path
        assert "changes need the admin role" in page.text
    before = read(project, "data/nlu/tr.yml")
    for path in CHANGES:
        data = {"csrf": csrf, "op": "add", "language": "tr", "texts": "selam dostum"}
        answer = await site.client.post(path, data={**data, "action": "save"})
        assert answer.status_code == 403, path
        assert "may look but not change" in answer.text
    assert read(project, "data/nlu/tr.yml") == before
    assert rasa.loads == []


async def test_a_change_without_the_csrf_token_is_refused(site: Served, project: Path) -> None:
    await sign_in(site.client)
    before = read(project, "data/nlu/tr.yml")
    for path in CHANGES:
        data = {"op": "add", "language": "tr", "texts": "selam dostum", "action": "save"}
        answer = await site.client.post(path, data=data)
        assert answer.status_code == 403, path
        wrong = await site.client.post(path, data={**data, "csrf": "x" * 64})
        assert wrong.status_code == 403, path
    assert read(project, "data/nlu/tr.yml") == before


async def test_the_nav_bar_links_every_section(site: Served) -> None:
    await sign_in(site.client)
    dashboard = await site.client.get("/dashboard", params={"days": "1"})
    assert dashboard.status_code == 200
    nav = re.search(r'<nav class="sections".*?</nav>', dashboard.text, flags=re.S)
    assert nav, dashboard.text
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(0))
    assert links == [
        ("/dashboard", "Dashboard"),
        ("/admin/intents", "Intents"),
        ("/admin/answers", "Answers"),
        ("/admin/training", "Train"),
        ("/admin/review", "Review"),
    ]
    assert '<a href="/dashboard" aria-current="page">' in dashboard.text
    page = await site.client.get("/admin/intents/greet")
    assert '<a href="/admin/intents" aria-current="page">' in page.text


# --- intents and examples ----------------------------------------------------------------------


async def test_the_intent_list_counts_examples_and_flags_thin_languages(
    site: Served, project: Path
) -> None:
    await sign_in(site.client)
    nlu = project / "data/nlu/pl.yml"
    text = nlu.read_text(encoding="utf-8")
    # Leave 2 Polish examples of deny: thin.
    start = text.index("- intent: deny\n")
    end = text.index("- intent:", start + 5)
    block = text[start:end].splitlines(keepends=True)
    nlu.write_text(text[:start] + "".join(block[:4]) + "\n" + text[end:], encoding="utf-8")
    page = await site.client.get("/admin/intents")
    assert page.status_code == 200
    row = re.search(r'<a href="/admin/intents/deny">deny</a>.*?</tr>', page.text, flags=re.S)
    assert row, page.text
    assert '<span class="thin" title="Few examples in this language">2 ⚠</span>' in row.group(0)
    assert "thin in some language" in page.text
    faq = re.search(r'href="/admin/intents/faq/contact">faq/contact</a>', page.text)
    assert faq


async def test_turkish_examples_check_then_save_keep_the_comments(
    site: Served, project: Path
) -> None:
    csrf = await sign_in(site.client)
    tr = project / "data/nlu/tr.yml"
    commented = read(project, "data/nlu/tr.yml").replace(
        'version: "3.1"\n', 'version: "3.1"\n# Turkish: informal spellings too.\n', 1
    )
    commented = commented.replace(
        "- intent: goodbye\n", "# Farewells, also without diacritics.\n- intent: goodbye\n", 1
    )
    tr.write_text(commented.replace("    - slm\n", "    - slm  # short for selam\n"), "utf-8")
    before = {lang: read(project, f"data/nlu/{lang}.yml") for lang in ("en", "tr", "pl")}
    form = {"csrf": csrf, "op": "add", "language": "tr", "texts": "selam dostum\n\n hey köprü \n"}
    checked = await site.client.post("/admin/intents/greet", data={**form, "action": "check"})
    assert checked.status_code == 200
    assert "No problems: Save adds 2 example(s)." in checked.text
    assert read(project, "data/nlu/tr.yml") == before["tr"]
    saved = await site.client.post("/admin/intents/greet", data={**form, "action": "save"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/intents/greet#lang-tr"
    after = read(project, "data/nlu/tr.yml")
    assert changed_lines(before["tr"], after) == ["+    - selam dostum", "+    - hey köprü"]
    for comment in ("# Turkish: informal", "# Farewells, also", "slm  # short for selam"):
        assert comment in after
    greet = after[after.index("- intent: greet") : after.index("- intent: goodbye")]
    assert "    - selam dostum\n    - hey köprü\n" in greet
    for lang in ("en", "pl"):
        assert read(project, f"data/nlu/{lang}.yml") == before[lang]
    page = await site.client.get(saved.headers["location"])
    assert "2 example(s) added to greet (data/nlu/tr.yml)." in page.text
    assert 'value="hey köprü"' in page.text


async def test_duplicates_and_conflicts_are_shown_and_nothing_is_written(
    site: Served, project: Path
) -> None:
    csrf = await sign_in(site.client)
    before = read(project, "data/nlu/tr.yml")
    cases = {
        "merhaba": "is already an example of greet (tr)",
        "yeni selam\nYeni  selam": "is already an example of greet (tr)",  # within the input
        "görüşürüz": "is already an example of goodbye (tr)",  # another intent
        "   \n": "No examples to add",
        "[selam](nobody)": "Unknown entity 'nobody'",
    }
    for texts, message in cases.items():
        form = {"csrf": csrf, "op": "add", "language": "tr", "texts": texts}
        for action, status in (("check", 200), ("save", 422)):
            answer = await site.client.post("/admin/intents/greet", data={**form, "action": action})
            assert answer.status_code == status, (texts, action)
            assert any(message in p for p in problems(answer.text)), (texts, answer.text)
            assert "nothing was saved" in answer.text
    assert read(project, "data/nlu/tr.yml") == before
    # The same text under two intents, in another language.
    form = {"csrf": csrf, "op": "add", "language": "en", "texts": "görüşürüz", "action": "save"}
    answer = await site.client.post("/admin/intents/greet", data=form)
    assert answer.status_code == 422
    assert any("cannot mean two intents" in p for p in problems(answer.text))


async def test_edit_and_delete_an_example(site: Served, project: Path) -> None:
    csrf = await sign_in(site.client)
    before = read(project, "data/nlu/tr.yml")
    form = {"csrf": csrf, "op": "edit", "language": "tr", "old": "slm", "new": "slm köprü"}
    checked = await site.client.post("/admin/intents/greet", data={**form, "action": "check"})
    assert "No problems: Save changes the example." in checked.text
    assert 'value="slm köprü"' in checked.text
    assert read(project, "data/nlu/tr.yml") == before
    taken = {**form, "new": "merhaba", "action": "save"}
    refused = await site.client.post("/admin/intents/greet", data=taken)
    assert refused.status_code == 422
    assert read(project, "data/nlu/tr.yml") == before
    saved = await site.client.post("/admin/intents/greet", data={**form, "action": "save"})
    assert saved.status_code == 303
    edited = read(project, "data/nlu/tr.yml")
    assert changed_lines(before, edited) == ["-    - slm", "+    - slm köprü"]
    delete = {"csrf": csrf, "op": "delete", "language": "tr", "text": "slm köprü"}
    assert (await site.client.post("/admin/intents/greet", data=delete)).status_code == 303
    assert changed_lines(before, read(project, "data/nlu/tr.yml")) == ["-    - slm"]
    again = await site.client.post("/admin/intents/greet", data=delete)
    assert again.status_code == 422
    assert any("is not an example of greet" in p for p in problems(again.text))


async def test_a_new_intent_with_examples_and_its_answer(site: Served, project: Path) -> None:
    csrf = await sign_in(site.client)
    domain_before = read(project, "domain.yml")
    form = {
        "csrf": csrf,
        "name": "gift_wrap",
        "examples_en": "can you gift wrap my order\ndo you offer gift wrapping",
        "examples_tr": "hediye paketi yapıyor musunuz",
        "examples_pl": "czy pakujecie na prezent",
        "answer_en": "Yes, add gift wrapping at checkout.",
        "answer_tr": "Evet, ödeme adımında hediye paketi seçebilirsiniz.",
        "answer_pl": "Tak, opakowanie na prezent wybierzesz przy kasie.",
    }
    bad = await site.client.post(
        "/admin/intents/new", data={**form, "name": "Gift Wrap", "action": "check"}
    )
    assert bad.status_code == 200
    assert any("is not a valid intent name" in p for p in problems(bad.text))
    checked = await site.client.post("/admin/intents/new", data={**form, "action": "check"})
    assert "No problems" in checked.text, problems(checked.text)
    assert read(project, "domain.yml") == domain_before
    saved = await site.client.post("/admin/intents/new", data={**form, "action": "save"})
    assert saved.status_code == 303, problems(saved.text)
    assert saved.headers["location"] == "/admin/intents/gift_wrap"
    assert "- intent: gift_wrap\n  examples: |\n    - hediye paketi yapıyor musunuz\n" in read(
        project, "data/nlu/tr.yml"
    )
    domain = read(project, "domain.yml")
    assert "  - gift_wrap\n" in domain
    assert "  utter_gift_wrap:\n" in domain
    assert "Evet, ödeme adımında hediye paketi seçebilirsiniz." in domain
    rules = read(project, "data/rules.yml")
    assert re.search(r"\n +- intent: gift_wrap\n +- action: utter_gift_wrap\n$", rules)
    page = await site.client.get("/admin/intents/gift_wrap")
    assert "Intent gift_wrap added" in page.text
    assert '<a href="/admin/answers/utter_gift_wrap">utter_gift_wrap</a>' in page.text
    again = await site.client.post("/admin/intents/new", data={**form, "action": "save"})
    assert again.status_code == 422
    assert any("already exists" in p for p in problems(again.text))


async def test_a_new_frequent_question(site: Served, project: Path) -> None:
    csrf = await sign_in(site.client)
    form = {
        "csrf": csrf,
        "name": "faq/gift_wrap",
        "examples_en": "do you gift wrap",
        "answer_en": "Yes, at checkout.",
        "action": "save",
    }
    saved = await site.client.post("/admin/intents/new", data=form)
    assert saved.status_code == 303, problems(saved.text)
    assert "  utter_faq/gift_wrap:\n" in read(project, "domain.yml")
    assert "- intent: faq/gift_wrap\n" in read(project, "data/nlu/en.yml")
    assert "gift_wrap" not in read(project, "data/rules.yml")  # the FAQ rule answers it
    listing = await site.client.get("/admin/answers")
    assert 'href="/admin/answers/utter_faq/gift_wrap">gift_wrap</a>' in listing.text


async def test_unreadable_data_is_a_503_page(site: Served, project: Path) -> None:
    await sign_in(site.client)
    (project / "data/nlu/tr.yml").write_text("nlu: [unclosed\n", encoding="utf-8")
    page = await site.client.get("/admin/intents")
    assert page.status_code == 503
    assert "The training data in" in page.text and "cannot be read" in page.text
    assert "Traceback" not in page.text


# --- answers ---------------------------------------------------------------------------------


async def test_editing_a_polish_answer_changes_one_line(site: Served, project: Path) -> None:
    csrf = await sign_in(site.client)
    listing = await site.client.get("/admin/answers")
    assert '<a href="/admin/answers/utter_greet">utter_greet</a>' in listing.text
    page = await site.client.get("/admin/answers/utter_greet_name")
    assert "Hi Deniz, I'm Köprü" in text_of(page.text)  # the preview, with a sample name
    before = read(project, "domain.yml")
    text = "Cześć {customer_name}! Jestem Köprü. W czym pomóc?"
    form = {"csrf": csrf, "op": "set", "language": "pl", "text": text}
    checked = await site.client.post(
        "/admin/answers/utter_greet_name", data={**form, "action": "check"}
    )
    assert checked.status_code == 200
    assert "Cześć Deniz! Jestem Köprü. W czym pomóc?" in text_of(checked.text)
    assert read(project, "domain.yml") == before
    braces = {**form, "text": "Cześć {customer_name", "action": "save"}
    refused = await site.client.post("/admin/answers/utter_greet_name", data=braces)
    assert refused.status_code == 422
    assert any("without its pair" in p for p in problems(refused.text))
    saved = await site.client.post(
        "/admin/answers/utter_greet_name", data={**form, "action": "save"}
    )
    assert saved.status_code == 303
    diff = changed_lines(before, read(project, "domain.yml"))
    assert len(diff) == 2 and diff[0].startswith("-") and diff[1] == f'+      text: "{text}"'
    shown = await site.client.get(saved.headers["location"])
    assert "The pl text of utter_greet_name changed (domain.yml)." in shown.text


# --- training and models -----------------------------------------------------------------------

FAKE_RASA_TRAIN = r"""
import sys, time
from pathlib import Path
from bot.authoring.training import model_path

snapshot, models_dir, mode, go = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
HOOKS = "2026-11-23 10:00:02 INFO     rasa.engine.training.hooks  - "
print("2026-11-23 10:00:00 INFO     rasa.cli.train  - "
      "Started validating domain and training data...", flush=True)
print("2026-11-23 10:00:01 INFO     rasa.validator  - Validating intents...", flush=True)
print(HOOKS + "Starting to train component 'RegexEntityExtractor'.", flush=True)
print(HOOKS + "Finished training component 'RegexEntityExtractor'.", flush=True)
print("<script>alert(1)</script> Starting to train component "
      "'KopruIntentClassifier'.", flush=True)
if mode == "wait":
    deadline = time.time() + 20
    while not Path(go).exists() and time.time() < deadline:
        time.sleep(0.05)
if mode == "fail":
    print("\x1b[91mThe intent 'greet' has too few examples to train.\x1b[0m", flush=True)
    sys.exit(1)
print("Finished training component 'KopruIntentClassifier'.", flush=True)
path = model_path(snapshot, models_dir)
path.write_bytes(b"not really a model")
print(f"Your Rasa model is trained and saved at '{path}'.", flush=True)
"""


@pytest.fixture
def fake_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """`python -m bot.authoring.trainer` replaced with the script above; set `mode` to ok, wait
    or fail (wait: until the file `go` exists)."""
    script = tmp_path / "fake_rasa_train.py"
    script.write_text(FAKE_RASA_TRAIN, encoding="utf-8")
    control: dict[str, Any] = {"mode": "ok", "go": tmp_path / "go"}

    def argv(snapshot: Path, models_dir: Path, force: bool) -> list[str]:
        return [
            sys.executable, str(script), str(snapshot), str(models_dir),
            control["mode"], str(control["go"]),
        ]  # fmt: skip

    monkeypatch.setattr(bot.authoring.trainer, "_child_argv", argv)
    yield control


def old_model(tmp_path: Path, age: float = 3600.0) -> Path:
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    path = models / OLD_MODEL
    path.write_bytes(b"an older model")
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


async def post_training(site: Served, csrf: str, **fields: str) -> httpx.Response:
    answer = await site.client.post("/admin/training", data={"csrf": csrf, **fields})
    assert answer.status_code == 303
    return answer


async def test_training_switches_the_bot_and_one_click_rolls_back(
    tmp_path: Path, project: Path, fake_training: dict[str, Any]
) -> None:
    old_model(tmp_path)
    async with fake_rasa(OLD_MODEL) as rasa, served(settings(tmp_path, project, rasa.url)) as site:
        csrf = await sign_in(site.client)
        page = await site.client.get("/admin/training")
        assert '<strong id="active-model">kopru-0000000000000000.tar.gz</strong>' in page.text
        assert "The data changed since the active model was trained" in page.text
        assert "Train a new model" in page.text
        assert 'http-equiv="refresh"' not in page.text
        await post_training(site, csrf, op="train")
        job = await site.admin.trainer.wait()
        assert job is not None and job.status == "succeeded", job
        new_name = model_path(project, tmp_path / "models").name
        assert rasa.loads == [new_name] and rasa.current == new_name
        page = await site.client.get("/admin/training")
        assert "The training started." in page.text
        assert f"New model {new_name} is active." in page.text
        assert "The active model is trained on the current data" in page.text
        assert '<progress id="job-progress" max="100" value="100">' in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # the log, escaped
        assert "<script>" not in page.text
        assert "Roll back to this" in page.text
        await post_training(site, csrf, op="activate", model=OLD_MODEL)
        assert rasa.current == OLD_MODEL
        page = await site.client.get("/admin/training")
        assert f"{OLD_MODEL} is active now (was {new_name})." in page.text
        assert "The data changed since the active model was trained" in page.text
        # Nothing to train now, but the model for the data exists: activated again.
        await post_training(site, csrf, op="train")
        assert rasa.current == new_name
        page = await site.client.get("/admin/training")
        assert f"A model for the current data existed: {new_name} is active now." in page.text
        # Unknown or crafted model names activate nothing.
        for name in ("../../etc/passwd", "nope.tar.gz"):
            await post_training(site, csrf, op="activate", model=name)
        assert rasa.current == new_name
        page = await site.client.get("/admin/training")
        assert "There is no model called &#x27;../../etc/passwd&#x27;." in page.text


async def test_training_progress_then_a_failure_leaves_the_bot_alone(
    tmp_path: Path, project: Path, fake_training: dict[str, Any]
) -> None:
    old_model(tmp_path)
    async with fake_rasa(OLD_MODEL) as rasa, served(settings(tmp_path, project, rasa.url)) as site:
        csrf = await sign_in(site.client)
        fake_training["mode"] = "wait"
        await post_training(site, csrf, op="train")
        deadline = time.monotonic() + 10
        while True:
            page = await site.client.get("/admin/training")
            if "KopruIntentClassifier" in page.text or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        assert '<meta http-equiv="refresh" content="2">' in page.text
        assert '<strong class="status-running" id="job-status">running</strong>' in page.text
        assert '<span id="job-stage">training KopruIntentClassifier</span>' in page.text
        percent = int(
            re.search(r'<progress id="job-progress" max="100" value="(\d+)"', page.text)[1]
        )
        assert 0 < percent < 100
        assert "Stop the training" in page.text
        again = await post_training(site, csrf, op="train")
        assert (
            "A training is already running"
            in (await site.client.get(again.headers["location"])).text
        )
        fake_training["mode"] = "fail"
        fake_training["go"].touch()
        await site.admin.trainer.wait()
        page = await site.client.get("/admin/training")
        assert 'id="job-status">succeeded<' in page.text  # the waiting one was not failing
        # A failing training: says why, activates nothing.
        (project / "data/nlu/en.yml").write_text(
            read(project, "data/nlu/en.yml") + "\n", encoding="utf-8"
        )
        loads = list(rasa.loads)
        await post_training(site, csrf, op="train")
        job = await site.admin.trainer.wait()
        assert job is not None and job.status == "failed"
        page = await site.client.get("/admin/training")
        assert "The training failed; the running bot is unchanged." in page.text
        assert "The intent &#x27;greet&#x27; has too few examples to train." in page.text
        assert rasa.loads == loads
        assert 'http-equiv="refresh"' not in page.text


async def test_a_model_the_server_cannot_load_keeps_the_old_one(
    tmp_path: Path, project: Path
) -> None:
    old_model(tmp_path)
    async with fake_rasa(OLD_MODEL) as rasa:
        web_settings = settings(tmp_path, project, rasa.url)
    # The server is gone now: the page says so and the switch fails.
    async with served(web_settings) as site:
        csrf = await sign_in(site.client)
        page = await site.client.get("/admin/training")
        assert "The Rasa server cannot tell which model it serves" in page.text
        await post_training(site, csrf, op="activate", model=OLD_MODEL)
        page = await site.client.get("/admin/training")
        assert "could not switch to kopru-0000000000000000.tar.gz; it keeps the model" in page.text


# --- review ----------------------------------------------------------------------------------


def tracker_rows(now: float) -> list[dict[str, Any]]:
    def user(
        sender: str,
        at: float,
        text: str,
        intent: str,
        confidence: float,
        ranking: tuple[tuple[str, float], ...] = (),
    ) -> dict[str, Any]:
        data = {
            "event": "user",
            "timestamp": at,
            "text": text,
            "parse_data": {
                "intent": {"name": intent, "confidence": confidence},
                "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
                "entities": [],
                "text": text,
            },
        }
        return {"sender_id": sender, "type_name": "user", "timestamp": at,
                "intent_name": intent, "data": json.dumps(data)}  # fmt: skip

    def language(sender: str, at: float, value: str) -> dict[str, Any]:
        data = {"event": "slot", "timestamp": at, "name": "language", "value": value}
        return {"sender_id": sender, "type_name": "slot", "timestamp": at,
                "intent_name": None, "data": json.dumps(data)}  # fmt: skip

    return [
        user("tg-1", now - 3600, "hello", "greet", 0.98),
        user("tg-1", now - 3000, "paketim hâlâ yolda değil mi acaba", "nlu_fallback", 0.3,
             (("nlu_fallback", 0.3), ("order_status", 0.27), ("delivery_question", 0.2))),
        language("tg-1", now - 2999, "tr"),
        user("tg-1", now - 2000, "<b>bold</b> what about my parcel", "delivery_question", 0.41),
        user("tg-1", now - 1900, "7", "inform", 0.2),  # a score: no words
        user("web-2", now - 20 * 86400, "an old fallback", "nlu_fallback", 0.3),
        user("web-3", now - 600, "czy mogę zapłacić kartą w sklepie", "nlu_fallback", 0.3),
        language("web-3", now - 599, "pl"),
        user("web-3", now - 500, "/affirm", "affirm", 1.0),
    ]  # fmt: skip


@pytest.fixture
def review_data(tmp_path: Path) -> float:
    now = time.time()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    events.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(events.insert(), tracker_rows(now))
    engine.dispose()
    store = Store(f"sqlite:///{tmp_path / 'live.db'}")
    store.create_schema()
    HandoffRepository(store).open(
        sender_id="web-3", session_started_at=now - 700, conversation_id=None, channel="webchat",
        language="pl", reason="repeated_fallback", at=now - 400,
        context={"transcript": [
            {"speaker": "customer", "text": "chcę rozmawiać z człowiekiem", "at": now - 450},
            {"speaker": "bot", "text": "Łączę z konsultantem.", "at": now - 440},
        ], "intents": [{"name": "request_human", "confidence": 0.91}]},
    )  # fmt: skip
    surveys = SurveyRepository(store)
    record = surveys.start(
        sender_id="tg-1", conversation_id=None, channel="telegram", language="tr",
        intents=["order_status"], resolver="bot", at=now - 100,
    )  # fmt: skip
    surveys.update(record.id, nps=3, reason="çok yavaş", answered_at=now - 90, status="done")
    store.close()
    return now


async def test_review_lists_messages_worth_a_look_and_adds_one(
    site: Served, project: Path, review_data: float
) -> None:
    viewer_client = site.client
    csrf = await sign_in(viewer_client)
    page = await site.client.get("/admin/review")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "1 fallbacks" not in text and "2 fallbacks" in text
    assert "paketim hâlâ yolda değil mi acaba" in text
    assert "fallback; best guess order_status (27 %)" in text
    assert "an old fallback" not in text  # 20 days ago
    assert "/affirm" not in text and "“7”" not in text
    assert "delivery_question (41 %)" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold</b>" not in page.text
    assert "chcę rozmawiać z człowiekiem" in text  # the escalation's customer line
    assert "Łączę z konsultantem" not in text  # the bot's line
    assert "NPS 3" in text and "çok yavaş" in text
    item = re.search(
        r'<q class="said">paketim hâlâ yolda değil mi acaba</q>.*?</form>', page.text, flags=re.S
    )
    assert item, page.text
    assert '<option value="order_status" selected>' in item.group(0)
    assert '<option value="tr" selected>' in item.group(0)
    longer = await site.client.get("/admin/review", params={"days": "30"})
    assert "an old fallback" in longer.text
    assert (await site.client.get("/admin/review", params={"days": "x"})).status_code == 400
    form = {
        "csrf": csrf,
        "text": "paketim hâlâ yolda değil mi acaba",
        "intent": "order_status",
        "language": "tr",
        "days": "7",
    }
    checked = await site.client.post("/admin/review/add", data={**form, "action": "check"})
    assert "adds it to order_status (tr)" in checked.text
    conflict = {**form, "text": "merhaba", "action": "save"}
    refused = await site.client.post("/admin/review/add", data=conflict)
    assert refused.status_code == 422
    assert any("is already an example of greet (tr)" in p for p in problems(refused.text))
    before = read(project, "data/nlu/tr.yml")
    saved = await site.client.post("/admin/review/add", data={**form, "action": "save"})
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/review?days=7"
    assert changed_lines(before, read(project, "data/nlu/tr.yml")) == [
        "+    - paketim hâlâ yolda değil mi acaba"
    ]
    page = await site.client.get(saved.headers["location"])
    assert "is now an example of order_status (tr)" in text_of(page.text)
    assert "Already an example of order_status (tr)." in page.text


async def test_review_without_a_tracker_store(site: Served) -> None:
    await sign_in(site.client)
    page = await site.client.get("/admin/review")
    assert page.status_code == 200
    assert "No conversations yet: the tracker store" in page.text
    assert "0 fallbacks" in text_of(page.text)


# --- settings ----------------------------------------------------------------------------------


def test_settings_for_the_admin_pages_from_the_environment(tmp_path: Path) -> None:
    env = {
        "KOPRU_ADMIN_TOKEN": TOKEN,
        "KOPRU_API_TOKEN": RASA_TOKEN,
        "KOPRU_RASA_URL": "http://127.0.0.1:5999/",
        "KOPRU_MODELS_DIR": str(tmp_path / "m"),
        "KOPRU_VAR_DIR": str(tmp_path),
    }
    web_settings = WebSettings.from_env(env)
    assert web_settings.rasa_url == "http://127.0.0.1:5999"
    assert web_settings.rasa_token == RASA_TOKEN
    assert web_settings.models_path() == tmp_path / "m"
    assert web_settings.project_root == PROJECT_ROOT
    assert web_settings.tracker_db_url is None
    assert RASA_TOKEN not in repr(web_settings)
    bare = WebSettings.from_env({"KOPRU_ADMIN_TOKEN": TOKEN, "KOPRU_VAR_DIR": str(tmp_path)})
    assert bare.rasa_url == "http://127.0.0.1:5005" and bare.rasa_token == ""
    assert bare.models_path() == PROJECT_ROOT / "models"
    url = WebSettings.from_env({**env, "KOPRU_TRACKER_DB_URL": "sqlite:///x.db"}).tracker_db_url
    assert url == "sqlite:///x.db"


def test_the_tracker_url_comes_from_endpoints_yml(tmp_path: Path) -> None:
    from bot.storage.trackers import tracker_db_url

    assert tracker_db_url(PROJECT_ROOT) == f"sqlite:///{PROJECT_ROOT / 'var/rasa_tracker.db'}"
    assert tracker_db_url(tmp_path) == f"sqlite:///{tmp_path / 'var/rasa_tracker.db'}"
    (tmp_path / "endpoints.yml").write_text(
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: db.internal\n  port: 5433\n"
        "  db: rasa\n  username: rasa\n  password: ${DB_PASSWORD}\n",
        encoding="utf-8",
    )
    url = tracker_db_url(tmp_path, {"DB_PASSWORD": "s3cret"})
    assert url == "postgresql://rasa:s3cret@db.internal:5433/rasa"
    (tmp_path / "endpoints.yml").write_text("tracker_store:\n  type: redis\n", encoding="utf-8")
    assert tracker_db_url(tmp_path) == f"sqlite:///{tmp_path / 'var/rasa_tracker.db'}"
