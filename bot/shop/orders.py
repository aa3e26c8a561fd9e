"""Typed httpx client for the shop's order backend (orders, returns, invoices)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from bot.errors import BackendError, BackendUnavailable, Conflict, NotFound

__all__ = [
    "ORDER_NUMBER_RE",
    "Order",
    "OrdersClient",
    "ReturnReceipt",
    "normalize_order_number",
]

ORDER_NUMBER_RE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_GROUPED_RE = re.compile(r"(?<!\d)(\d{3})[ -](\d{3})(?!\d)")
ORDER_STATUSES = ("processing", "shipped", "out_for_delivery", "delivered", "cancelled")


def normalize_order_number(text: str | None) -> str | None:
    """The six-digit order number in what the customer typed ("#204 518" too), or None."""
    if not text:
        return None
    found = ORDER_NUMBER_RE.findall(text)
    if not found:
        # Read out in groups: "204 518" or "204-518".
        found = ["".join(m) for m in _GROUPED_RE.findall(text)]
    # Two different numbers in one answer are ambiguous: ask again rather than guess.
    return found[0] if len(set(found)) == 1 else None


@dataclass(frozen=True)
class Order:
    number: str
    status: str
    carrier: str
    tracking_number: str | None
    eta: str | None
    delivered_on: str | None
    email: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class ReturnReceipt:
    return_number: str
    carrier: str


def _order(data: Any) -> Order:
    try:
        status = str(data["status"])
        if status not in ORDER_STATUSES:
            raise BackendError(f"unknown order status {status!r}")
        return Order(
            number=str(data["number"]),
            status=status,
            carrier=str(data.get("carrier") or ""),
            tracking_number=data.get("tracking_number"),
            eta=data.get("eta"),
            delivered_on=data.get("delivered_on"),
            email=str(data.get("email") or ""),
            items=tuple(str(i) for i in data.get("items") or ()),
        )
    except (KeyError, TypeError) as exc:
        raise BackendError(f"malformed order: {exc}") from exc


class OrdersClient:
    """Talks to the order backend over HTTP; every failure becomes a BackendError."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._client = client or httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            headers={"User-Agent": "kopru/0.1"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"{method} {path}: {exc!r}") from exc
        if response.status_code == 404:
            raise NotFound(f"{method} {path}: not found")
        if response.status_code == 409:
            raise Conflict(f"{method} {path}: {response.text[:200]}")
        if response.status_code >= 500:
            raise BackendUnavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise BackendError(f"{method} {path}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise BackendError(f"{method} {path}: answer is not JSON") from exc

    async def get_order(self, number: str) -> Order:
        return _order(await self._request("GET", f"/api/orders/{number}"))

    async def create_return(self, number: str, item: str, reason: str) -> ReturnReceipt:
        data = await self._request(
            "POST", f"/api/orders/{number}/returns", json={"item": item, "reason": reason}
        )
        try:
            return ReturnReceipt(str(data["return_number"]), str(data.get("carrier") or ""))
        except (KeyError, TypeError) as exc:
            raise BackendError(f"malformed return receipt: {exc}") from exc

    async def resend_invoice(self, number: str) -> str:
        """Ask the backend to e-mail the invoice again; returns the (masked) address used."""
        data = await self._request("POST", f"/api/orders/{number}/invoice")
        try:
            return str(data["sent_to"])
        except (KeyError, TypeError) as exc:
            raise BackendError(f"malformed invoice answer: {exc}") from exc
