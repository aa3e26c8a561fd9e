"""The admin app in a real browser: Playwright driving Debian's Chromium (no browser
download) against `kopru run` on a copy of the project, so the repository's own data is
never touched.

Sign in; add Turkish examples to an intent; train; see the new model become active; the bot
now answers a message it could not before; roll back to the earlier model.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import KopruProcess

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "e2e-admin-" + uuid.uuid4().hex
# Unknown to the shipped model (it falls back), an order question once taught.
NEW_WORDS = "turuncu fil kutusu nerede"
EXAMPLES = [
    "turuncu fil kutusu nerede",
    "turuncu fil kutum nerede",
    "turuncu fil kutusu hâlâ gelmedi",
    "turuncu fil kutumu bekliyorum",
    "turuncu fil kutusu ne zaman gelir",
]
ASKS_FOR_THE_NUMBER = "Sipariş numaranızı"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, model: Path) -> Path:
    root = tmp_path_factory.mktemp("admin-project")
    for name in ("config.yml", "domain.yml", "kopru.yml", "endpoints.yml", "credentials.yml"):
        shutil.copy2(PROJECT_ROOT / name, root / name)
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    (root / "models").mkdir()
    shutil.copy2(model, root / "models" / model.name)
    return root


@pytest.fixture(scope="module")
def kopru(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KopruProcess]:
    model = next((project / "models").glob("*.tar.gz"))
    process = KopruProcess(model, tmp_path_factory.mktemp("admin-run"))
    process.env = {
        "KOPRU_API_TOKEN": TOKEN,
        "KOPRU_PROJECT_ROOT": str(project),
        "KOPRU_MODELS_DIR": str(project / "models"),
    }
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "scripts/test.sh installs Debian's chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"],
        )  # fmt: skip
        yield chromium
        chromium.close()


def answers(kopru: KopruProcess, text: str) -> str:
    sender = "admin-e2e-" + uuid.uuid4().hex[:8]
    return "\n".join(m.get("text", "") for m in kopru.say(sender, text))


def active_model(kopru: KopruProcess) -> str:
    status = httpx.get(f"{kopru.url}/status", params={"token": TOKEN}, timeout=10).json()
    return str(status["model_file"])


def test_teach_train_switch_and_roll_back(kopru: KopruProcess, browser: Any, project: Path) -> None:
    before = answers(kopru, NEW_WORDS)
    assert ASKS_FOR_THE_NUMBER not in before, before
    first_model = active_model(kopru)

    page = browser.new_page()
    web = f"http://127.0.0.1:{kopru.web_port}"
    page.goto(f"{web}/admin/intents")
    assert "/login" in page.url  # signed out: the login form
    page.fill("input[name=password]", TOKEN)
    with page.expect_navigation():
        page.click("form:has(input[name=password]) button[type=submit]")
    assert page.url.startswith(f"{web}/admin/intents"), (page.url, page.inner_text("main"))
    page.screenshot(path=str(kopru.tmp / "intents.png"), full_page=True)

    # Add Turkish examples to order_status.
    page.click("a[href='/admin/intents/order_status']")
    page.fill("textarea#add-tr", "\n".join(EXAMPLES))
    page.click("form.add-examples:has(textarea#add-tr) button[value=save]")
    page.wait_for_load_state()
    assert EXAMPLES[0] in page.content()
    assert EXAMPLES[0] in (project / "data" / "nlu" / "tr.yml").read_text(encoding="utf-8")

    # Train; the page refreshes itself until the training is over.
    page.goto(f"{web}/admin/training")
    page.click("form:has(input[value=train]) button[type=submit]")
    # The page reloads itself every 2 s while the training runs.
    page.wait_for_selector(
        "#job-status:text-is('succeeded'), #job-status:text-is('failed')", timeout=300_000
    )
    assert page.inner_text("#job-status") == "succeeded", page.inner_text("main")
    deadline = time.monotonic() + 120
    while page.inner_text("#active-model") == first_model and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    assert page.inner_text("#active-model") != first_model
    page.screenshot(path=str(kopru.tmp / "training.png"), full_page=True)
    second_model = active_model(kopru)
    assert second_model != first_model

    after = answers(kopru, NEW_WORDS)
    assert ASKS_FOR_THE_NUMBER in after, after

    # Roll back to the first model with one click.
    page.goto(f"{web}/admin/training")
    page.click(f"form:has(input[name=model][value='{first_model}']) button[type=submit]")
    page.wait_for_load_state()
    assert active_model(kopru) == first_model
    assert ASKS_FOR_THE_NUMBER not in answers(kopru, NEW_WORDS)
    page.close()
