"""Telegram delivery figures: forged requests, duplicates, losses, across a restart.

Starts `kopru run` with the Telegram channel against the fake Bot API on 127.0.0.1 (the
same one the tests use), then delivers N customer updates through the webhook: each one
twice, a forged copy of each with a wrong or missing secret, and the second half again
after a restart of every process. Prints how many forged requests were refused, how
many updates were answered more than once (must be 0) and how many were never answered
(must be 0).

    .venv/bin/python -m bench.telegram_delivery --updates 40
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bot.authoring.training import ensure_model
from bot.settings import PROJECT_ROOT
from tests.e2e.conftest import KopruProcess
from tests.fakes.telegram_api import FakeTelegramThread, text_update

SECRET = "bench-secret"  # noqa: S105 - a test value for the local fake
TEXTS = ["merhaba", "dzień dobry", "hello there", "kargom nerede?", "gdzie jest paczka?",
         "where is my order?", "teşekkürler", "dziękuję", "thanks"]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=40, help="customer updates (default 40)")
    args = parser.parse_args()
    model = ensure_model(PROJECT_ROOT, PROJECT_ROOT / "models", quiet=True)
    tmp = Path(tempfile.mkdtemp(prefix="kopru-bench-"))
    with FakeTelegramThread() as telegram:
        kopru = KopruProcess(model, tmp)
        kopru.env = {
            "TELEGRAM_TOKEN": telegram.token,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_WEBHOOK_URL": f"{kopru.url}/webhooks/telegram/webhook",
        }
        started = time.monotonic()
        kopru.start()
        # One chat per update, so each answer is attributable to exactly one update.
        updates = [
            text_update(10_000 + i, 900_000 + i, TEXTS[i % len(TEXTS)], language_code=None)
            for i in range(args.updates)
        ]
        for j, text in enumerate(TEXTS):
            telegram.deliver_webhook(text_update(20_000 + j, 800_000 + j, text, language_code=None))
        forged_refused = forged_sent = 0
        statuses: list[int] = []
        url = f"{kopru.url}/webhooks/telegram/webhook"
        for update in updates:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "forged"}):
                forged_sent += 1
                status = httpx.post(url, json=update, headers=headers, timeout=30).status_code
                forged_refused += status == 403
            statuses += [telegram.deliver_webhook(update, timeout=60) for _ in range(2)]
        kopru.stop()
        kopru.start()
        statuses += [telegram.deliver_webhook(u, timeout=60) for u in updates[len(updates) // 2 :]]
        time.sleep(3)
        kopru.stop()
        elapsed = time.monotonic() - started

        # How many messages one processing of each text yields, from control chats that
        # got their update exactly once.
        per_text = {text: len(telegram.sent_messages(800_000 + j)) for j, text in enumerate(TEXTS)}
        answered_twice = lost = 0
        for update in updates:
            sent = telegram.sent_messages(update["message"]["chat"]["id"])
            lost += not sent
            answered_twice += len(sent) > per_text[update["message"]["text"]]
    figures = {
        "updates": args.updates,
        "deliveries": len(statuses),
        "deliveries_not_200": sum(s != 200 for s in statuses),
        "forged_requests": forged_sent,
        "forged_refused_403": forged_refused,
        "answered_twice": answered_twice,
        "lost": lost,
        "seconds": round(elapsed, 1),
    }
    for key, value in figures.items():
        print(f"{key:22} {value}")
    print(json.dumps(figures))
    return 0 if answered_twice == 0 and lost == 0 and forged_refused == forged_sent else 1


if __name__ == "__main__":
    sys.exit(main())
