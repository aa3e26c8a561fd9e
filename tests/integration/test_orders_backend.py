"""OrdersClient (httpx) against the demo backend served on 127.0.0.1, and failure modes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot.errors import BackendError, BackendUnavailable, Conflict, NotFound
from bot.shop.demo_backend import mask_email
from bot.shop.orders import OrdersClient, normalize_order_number
from tests.fakes.server import listen


@pytest.fixture
async def client(demo_backend_url: str) -> AsyncIterator[OrdersClient]:
    client = OrdersClient(demo_backend_url, timeout=2.0)
    yield client
    await client.aclose()


async def test_order_lookup(client: OrdersClient) -> None:
    order = await client.get_order("204518")
    assert order.status == "shipped"
    assert order.carrier == "DHL"
    assert order.eta == "2026-11-25"
    assert order.items == ("Wireless headphones WH-200",)


async def test_unknown_order_is_not_found(client: OrdersClient) -> None:
    with pytest.raises(NotFound):
        await client.get_order("999999")


async def test_return_of_a_delivered_order(client: OrdersClient) -> None:
    receipt = await client.create_return("331907", "Running shoes, size 42", "too small")
    assert receipt.return_number == "R-331907-001"
    assert receipt.carrier == "InPost"
    second = await client.create_return("331907", "Sports socks", "changed my mind")
    assert second.return_number == "R-331907-002"


async def test_return_before_delivery_is_a_conflict(client: OrdersClient) -> None:
    with pytest.raises(Conflict):
        await client.create_return("204518", "headphones", "broken")


async def test_invoice_goes_to_the_masked_address(client: OrdersClient) -> None:
    assert await client.resend_invoice("331907") == "k***@example.com"


async def test_backend_down_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = OrdersClient(f"http://127.0.0.1:{port}", timeout=1.0)
    with pytest.raises(BackendUnavailable):
        await client.get_order("204518")
    await client.aclose()


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (500, b"{}", BackendUnavailable),
        (503, b"", BackendUnavailable),
        (400, b"{}", BackendError),
        (200, b"not json", BackendError),
        (200, b'{"number": "1"}', BackendError),
        (200, b'{"number": "1", "status": "teleported"}', BackendError),
    ],
)
async def test_bad_answers_become_backend_errors(
    status: int, body: bytes, error: type[Exception]
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    client = OrdersClient(
        "http://orders.test", client=httpx.AsyncClient(transport=transport, base_url="http://o")
    )
    with pytest.raises(error):
        await client.get_order("204518")


async def test_slow_backend_times_out() -> None:
    """A backend on 127.0.0.1 that accepts the request and does not answer within the
    client's timeout: the customer is not kept waiting, the backend is unavailable."""
    released = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await released.wait()  # until the test is over: far beyond the timeout
        return web.json_response({"number": "204518", "status": "shipped"})

    app = web.Application()
    app.router.add_get("/api/orders/{number}", slow)
    runner, port = await listen(app)
    client = OrdersClient(f"http://127.0.0.1:{port}", timeout=0.3)
    try:
        with pytest.raises(BackendUnavailable, match="ReadTimeout"):
            # Without the client's timeout this would wait for ever: fail after 10 s instead.
            await asyncio.wait_for(client.get_order("204518"), 10)
    finally:
        released.set()
        await client.aclose()
        await runner.cleanup()


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("204518", "204518"),
        ("#204518", "204518"),
        ("order no. 204 518", "204518"),
        ("my order is 204518, thanks", "204518"),
        ("1234", None),
        ("12345678", None),
        ("204518 or 331907", None),
        ("204518 204518", "204518"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_order_number(text: str | None, number: str | None) -> None:
    assert normalize_order_number(text) == number


def test_mask_email() -> None:
    assert mask_email("anna.smith@example.com") == "a***@example.com"
    assert mask_email("broken") == "***"
