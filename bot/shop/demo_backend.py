"""A small order backend with sample orders, so Köprü works out of the box.

It speaks the same HTTP API that bot.shop.orders.OrdersClient expects from a real shop
backend (documented in the README): replace it by pointing KOPRU_ORDERS_URL elsewhere.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

from aiohttp import web

__all__ = ["SAMPLE_ORDERS", "create_app", "mask_email", "sample_orders"]

SAMPLE_ORDERS = ("204518", "331907", "558120", "100234", "777001", "640055", "512704", "415926")


def mask_email(email: str) -> str:
    """j.kowalski@example.com -> j***@example.com (enough to recognise, not to harvest)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def sample_orders(today: dt.date) -> dict[str, dict[str, Any]]:
    """The demo orders, with dates relative to `today` so they never go stale."""

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    orders: list[dict[str, Any]] = [
        {"number": "204518", "status": "shipped", "carrier": "DHL",
         "tracking_number": "JD014600006281234567", "eta": day(2),
         "email": "anna.smith@example.com", "items": ["Wireless headphones WH-200"]},
        {"number": "331907", "status": "delivered", "carrier": "InPost",
         "delivered_on": day(-3), "email": "k.nowak@example.com",
         "items": ["Running shoes, size 42", "Sports socks (3 pairs)"]},
        {"number": "558120", "status": "processing", "carrier": "Yurtiçi Kargo",
         "eta": day(1), "email": "ayse.yilmaz@example.com", "items": ["Coffee maker CM-5"]},
        {"number": "100234", "status": "out_for_delivery", "carrier": "DPD",
         "tracking_number": "01234567890123", "eta": day(0),
         "email": "john.doe@example.org", "items": ["Smart watch SW-3"]},
        {"number": "777001", "status": "cancelled", "carrier": "",
         "email": "m.wisniewska@example.com", "items": ["Desk lamp"]},
        {"number": "640055", "status": "shipped", "carrier": "InPost",
         "tracking_number": "640055112233445566778899", "eta": day(1),
         "email": "piotr.zielinski@example.com", "items": ["Backpack 30 l"]},
        {"number": "512704", "status": "delivered", "carrier": "DPD",
         "delivered_on": day(-2), "email": "ewa.kaminska@example.com",
         "items": ["Smart watch SW-3"]},
        {"number": "415926", "status": "delivered", "carrier": "Aras Kargo",
         "delivered_on": day(-6), "email": "mehmet.demir@example.com",
         "items": ["Bluetooth speaker BS-1", "USB-C cable"]},
    ]  # fmt: skip
    return {o["number"]: o for o in orders}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def create_app(today: dt.date | None = None) -> web.Application:
    orders = sample_orders(today or dt.date.today())
    return_numbers = itertools.count(1)
    returns: list[dict[str, Any]] = []

    async def get_order(request: web.Request) -> web.Response:
        order = orders.get(request.match_info["number"])
        if order is None:
            return _error(404, "order not found")
        return web.json_response(order)

    async def create_return(request: web.Request) -> web.Response:
        order = orders.get(request.match_info["number"])
        if order is None:
            return _error(404, "order not found")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "body must be JSON")
        if not isinstance(body, dict) or not body.get("item") or not body.get("reason"):
            return _error(400, "item and reason are required")
        if order["status"] != "delivered":
            return _error(409, f"order is {order['status']}, returns open after delivery")
        receipt = {
            "return_number": f"R-{order['number']}-{next(return_numbers):03d}",
            "carrier": order["carrier"] or "DHL",
            "item": str(body["item"])[:200],
            "reason": str(body["reason"])[:500],
        }
        returns.append(receipt)
        return web.json_response(receipt, status=201)

    async def resend_invoice(request: web.Request) -> web.Response:
        order = orders.get(request.match_info["number"])
        if order is None:
            return _error(404, "order not found")
        return web.json_response({"sent_to": mask_email(order["email"])})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "orders": len(orders)})

    app = web.Application(client_max_size=64 * 1024)
    app.router.add_get("/health", health)
    app.router.add_get(r"/api/orders/{number}", get_order)
    app.router.add_post(r"/api/orders/{number}/returns", create_return)
    app.router.add_post(r"/api/orders/{number}/invoice", resend_invoice)
    return app


def serve(host: str, port: int) -> None:
    """Run the demo backend until interrupted (used by `kopru demo-backend`)."""
    web.run_app(create_app(), host=host, port=port, print=None, access_log=None)
