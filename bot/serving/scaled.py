"""The scaled deployment on one machine: what `kopru run --scaled` configures.

Rasa's own scaling path, nothing home-made: PostgreSQL for conversations (Köprü's
durable SQL tracker store) and Köprü's tables, Redis as the lock store so one
conversation is handled by one replica at a time, several `rasa run` replicas behind
nginx, and optionally RabbitMQ as the event broker. The decisions here are pure (the
endpoints and the nginx configuration as text); `prepare_database` is the one bit of I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.errors import ConfigError
from bot.serving.events import EVENTS_QUEUE

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_REDIS_URL",
    "TRACKER_STORE_TYPE",
    "ScaledConfig",
    "embedded_problems",
    "nginx_config",
    "prepare_database",
    "scaled_endpoints",
]

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/kopru"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TRACKER_STORE_TYPE = "bot.serving.tracker_store.DurableSQLTrackerStore"


@dataclass(frozen=True)
class ScaledConfig:
    """Where the shared services are: KOPRU_DATABASE_URL (PostgreSQL, both for Rasa's
    conversations and Köprü's tables), KOPRU_REDIS_URL, KOPRU_RABBITMQ_URL (optional)."""

    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    rabbitmq_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ScaledConfig:
        config = cls(
            database_url=env.get("KOPRU_DATABASE_URL") or DEFAULT_DATABASE_URL,
            redis_url=env.get("KOPRU_REDIS_URL") or DEFAULT_REDIS_URL,
            rabbitmq_url=env.get("KOPRU_RABBITMQ_URL") or None,
        )
        _postgres_parts(config.database_url)  # raise early on a URL we cannot use
        _redis_parts(config.redis_url)
        if config.rabbitmq_url is not None:
            _amqp_parts(config.rabbitmq_url)
        return config


def scaled_endpoints(config: ScaledConfig) -> dict[str, Any]:
    """The tracker store, lock store and event broker sections of endpoints.yml."""
    pg = _postgres_parts(config.database_url)
    tracker: dict[str, Any] = {
        "type": TRACKER_STORE_TYPE,
        "dialect": "postgresql",
        "url": pg["host"],
        "port": pg["port"],
        "db": pg["db"],
        "username": pg["username"],
    }
    if pg["password"]:
        tracker["password"] = pg["password"]
    redis = _redis_parts(config.redis_url)
    lock_store: dict[str, Any] = {
        "type": "redis",
        "url": redis["host"],
        "port": redis["port"],
        "db": redis["db"],
        "key_prefix": "kopru",
    }
    if redis["password"]:
        lock_store["password"] = redis["password"]
    sections: dict[str, Any] = {"tracker_store": tracker, "lock_store": lock_store}
    if config.rabbitmq_url:
        amqp = _amqp_parts(config.rabbitmq_url)
        sections["event_broker"] = {
            "type": "pika",
            "url": amqp["host"],
            "port": amqp["port"],
            "username": amqp["username"],
            "password": amqp["password"],
            "queues": [EVENTS_QUEUE],
        }
    return sections


def embedded_problems(endpoints: Mapping[str, Any]) -> list[str]:
    """Why these endpoints cannot serve several replicas (empty: they can)."""
    problems = []
    tracker = endpoints.get("tracker_store") or {}
    if str(tracker.get("dialect", "sqlite")).lower() == "sqlite" or not tracker:
        problems.append("the tracker store must be PostgreSQL (it is SQLite or in memory)")
    lock = endpoints.get("lock_store") or {}
    if str(lock.get("type", "in_memory")).lower() not in ("redis", "concurrent_redis"):
        problems.append("the lock store must be Redis (it is in memory)")
    return problems


def nginx_config(
    *, listen_host: str, listen_port: int, upstream_ports: Sequence[int], prefix: str
) -> str:
    """nginx in front of the Rasa replicas, run in the foreground by `kopru run`.

    A replica that refuses connections is skipped for 5 s; a request that could not be
    sent to one replica goes to the next. A POST that reached a replica is never sent
    again by nginx (`proxy_next_upstream` leaves non-idempotent requests alone): the
    channel's own redelivery and deduplication decide, not the load balancer.
    """
    if not upstream_ports:
        raise ConfigError("nginx needs at least one replica")
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in upstream_ports
    )
    listen = f"[{listen_host}]" if ":" in listen_host else listen_host
    return f"""# Written by `kopru run --scaled`; changes are overwritten at the next start.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/nginx-error.log warn;
daemon off;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    # Bodies over 1 MB are refused here; the channels refuse oversized messages too.
    client_max_body_size 1m;

    upstream rasa {{
{servers}
        keepalive 64;
        # Shorter than the replicas' own keep-alive (SANIC_KEEP_ALIVE_TIMEOUT, 75 s in
        # the scaled mode): nginx must never send a request on a connection the replica
        # is closing at that moment (the POST could not be retried: a 502).
        keepalive_timeout 60s;
    }}

    server {{
        listen {listen}:{listen_port};

        location = /nginx-health {{
            return 200 "ok\\n";
        }}

        location / {{
            proxy_pass http://rasa;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502;
            proxy_connect_timeout 2s;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def prepare_database(database_url: str) -> None:
    """Create the PostgreSQL database named in the URL when it does not exist yet, and
    Rasa's `events` table in it: replicas starting together would race to create it."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore

    parts = _postgres_parts(database_url)
    admin_url = sa.engine.make_url(database_url).set(database="postgres")
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parts["db"]}
            ).first()
            if exists is None:
                quoted = connection.dialect.identifier_preparer.quote(parts["db"])
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
        database = sa.create_engine(database_url)
        try:
            SQLTrackerStore.Base.metadata.create_all(database)
        finally:
            database.dispose()
    except sa.exc.DBAPIError as exc:
        raise ConfigError(f"PostgreSQL at {parts['host']}:{parts['port']}: {exc.orig}") from exc
    finally:
        engine.dispose()


def _postgres_parts(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ConfigError(
            f"KOPRU_DATABASE_URL must be a PostgreSQL URL for the scaled mode, not {parts.scheme}:"
        )
    db = parts.path.lstrip("/")
    if not db or "/" in db:
        raise ConfigError("KOPRU_DATABASE_URL must name a database: postgresql://user@host/db")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "db": db,
        "username": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
    }


def _redis_parts(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise ConfigError(f"KOPRU_REDIS_URL must be a redis:// URL, not {url.split('@')[-1]!r}")
    db = parts.path.lstrip("/") or "0"
    if not db.isdigit():
        raise ConfigError("KOPRU_REDIS_URL: the database is a number, as in redis://host:6379/0")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 6379,
        "db": int(db),
        "password": unquote(parts.password or ""),
    }


def _amqp_parts(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise ConfigError("KOPRU_RABBITMQ_URL must be an amqp:// URL")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5672,
        "username": unquote(parts.username or "guest"),
        "password": unquote(parts.password or "guest"),
    }
