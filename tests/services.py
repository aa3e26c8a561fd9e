"""The machine's services the tests talk to (PostgreSQL, Redis, RabbitMQ on 127.0.0.1).

scripts/services.sh starts them before pytest; the tests never start them. A test that needs
one that is not running fails (never skips) with a message naming the command to run.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

__all__ = [
    "POSTGRES",
    "POSTGRES_ADMIN_URL",
    "RABBITMQ",
    "REDIS",
    "Service",
    "postgres_databases",
    "require",
]

START = "scripts/services.sh"


class Service:
    def __init__(self, name: str, port: int, host: str = "127.0.0.1") -> None:
        self.name, self.host, self.port = name, host, port

    def running(self, timeout: float = 2.0) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=timeout):
                return True
        except OSError:
            return False

    def missing(self) -> str:
        return f"{self.name} is not running on {self.host}:{self.port}: start it with {START}"


POSTGRES = Service("PostgreSQL", 5432)
REDIS = Service("Redis", 6379)
RABBITMQ = Service("RabbitMQ", 5672)


def require(*services: Service) -> None:
    """Fail the calling test for each service that does not accept connections."""
    missing = [service.missing() for service in services if not service.running()]
    if missing:
        pytest.fail("\n".join(missing), pytrace=False)


POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def postgres_databases(count: int = 1) -> Iterator[list[str]]:
    """`count` new, empty PostgreSQL databases (their URLs), dropped afterwards."""
    require(POSTGRES)
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [f"kopru_test_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    try:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield [POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}" for name in names]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
