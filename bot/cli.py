"""The `kopru` command line: run, train, shell, demo-backend, report, demo-data, web,
admin-user, forget, export, events, migrate."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import KopruError
from bot.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from bot.insights.analytics import Period
    from bot.privacy.rights import Database

__all__ = ["main"]


def _models_dir(root: Path) -> Path:
    return Path(os.environ.get("KOPRU_MODELS_DIR") or root / "models")


def _model(args: argparse.Namespace, root: Path) -> Path:
    from bot.authoring.training import ensure_model, model_path

    if getattr(args, "model", None):
        return Path(args.model)
    models = _models_dir(root)
    if not model_path(root, models).exists():
        # Rasa's training log (and its notes on the data) is for `kopru train`; a failure
        # shows its end here.
        print("Training the model for the current data (a minute or two)...", flush=True)
    return ensure_model(root, models, quiet=True)


def cmd_train(args: argparse.Namespace) -> int:
    from bot.authoring.training import ensure_model

    path = ensure_model(PROJECT_ROOT, _models_dir(PROJECT_ROOT), force=args.force)
    print(f"Model: {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.authoring.training import child_env
    from bot.serving.runner import RunConfig, api_token_from_env, run

    config = RunConfig(
        root=PROJECT_ROOT,
        model=_model(args, PROJECT_ROOT),
        host=args.host,
        port=args.port,
        action_port=args.action_port,
        demo_backend=not args.no_demo_backend,
        demo_backend_port=args.demo_backend_port,
        web_port=args.web_port,
        endpoints=Path(args.endpoints) if args.endpoints else None,
        credentials=Path(args.credentials) if args.credentials else None,
        token=api_token_from_env(),
        action_url=args.action_url,
        scaled=args.scaled,
        replicas=args.replicas if args.scaled else 1,
    )
    return run(config, child_env())


def cmd_shell(args: argparse.Namespace) -> int:
    from bot.authoring.training import child_env
    from bot.serving.runner import Supervisor, effective_endpoints

    model = _model(args, PROJECT_ROOT)
    env = child_env({"KOPRU_ORDERS_URL": f"http://127.0.0.1:{args.demo_backend_port}"})
    endpoints = effective_endpoints(
        PROJECT_ROOT / "endpoints.yml",
        args.action_port,
        PROJECT_ROOT / "var" / "run" / "endpoints-shell.yml",
    )
    supervisor = Supervisor()
    try:
        supervisor.start_demo_backend(args.demo_backend_port, env, PROJECT_ROOT)
        supervisor.start_action_server(args.action_port, env, PROJECT_ROOT)
        supervisor.wait_all_healthy(120)
        command = [sys.executable, "-m", "rasa", "shell", "--model", str(model),
                   "--endpoints", str(endpoints)]  # fmt: skip
        return subprocess.call(command, cwd=PROJECT_ROOT, env=env)  # noqa: S603
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.stop()


def cmd_actions(args: argparse.Namespace) -> int:
    import logging

    from rasa_sdk import utils

    from bot.errors import ConfigError
    from bot.serving.action_server import ActionServerConfig, serve, warm_up

    try:
        # Before anything slow: an action server reachable from elsewhere needs a secret.
        config = ActionServerConfig.from_env(host=args.host, port=args.port)
    except ConfigError as exc:
        print(f"kopru actions: {exc}", file=sys.stderr)
        return 2
    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if logging.getLogger().getEffectiveLevel() >= logging.INFO:
        # One "Registered function for ..." line per action at every start: debug detail.
        logging.getLogger("rasa_sdk.executor").setLevel(logging.WARNING)
    # Fail at start on a broken configuration or store, not at a customer's first message,
    # and load the language models now rather than while a customer waits.
    warm_up()
    serve(config)
    return 0


def cmd_demo_backend(args: argparse.Namespace) -> int:
    from bot.shop.demo_backend import serve

    serve(args.host, args.port)
    return 0


class _UsageError(KopruError):
    """A bad argument of `kopru report` (exit code 2)."""


def _report_period(args: argparse.Namespace, today: dt.date) -> Period:
    from bot.insights.periods import PeriodError, parse_day_range

    try:
        return parse_day_range(args.from_date, args.to_date, args.days, today).period
    except PeriodError as exc:
        raise _UsageError(str(exc)) from None


def cmd_report(args: argparse.Namespace) -> int:
    from bot.insights.report import format_text, report_from_store, to_json
    from bot.settings import Settings
    from bot.storage.store import Store

    def fail(message: str) -> int:
        print(f"kopru report: {message}", file=sys.stderr)
        return 2

    try:
        period = _report_period(args, dt.datetime.now(dt.timezone.utc).date())
        url = args.database or Settings.from_env().database_url
    except (_UsageError, KopruError) as exc:
        return fail(str(exc))
    store = Store(url)
    try:
        # A fresh database gets Köprü's tables (and reports zeros) instead of an error.
        store.create_schema()
        report = report_from_store(store, period)
    except (KopruError, ImportError) as exc:
        # ImportError: a database URL whose driver is not installed.
        return fail(_one_line(str(exc)))
    finally:
        store.close()
    sys.stdout.write(to_json(report) + "\n" if args.json else format_text(report))
    if args.charts:
        try:
            from bot.insights.charts import write_charts
        except ImportError as exc:
            return fail(f"charts are not available: {exc}")
        try:
            paths = write_charts(report, Path(args.charts))
        except OSError as exc:
            return fail(f"cannot write the charts to {args.charts}: {exc}")
        # With --json the standard output stays one JSON document.
        out = sys.stderr if args.json else sys.stdout
        for path in paths:
            print(f"Chart: {path}", file=out)
    return 0


def _one_line(message: str) -> str:
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    return first[:300]


def cmd_demo_data(args: argparse.Namespace) -> int:
    import shlex

    from bot.insights.demo_data import DESK, generate
    from bot.storage.store import Store

    # Kept apart from the real store (var/kopru.db) unless --database says otherwise.
    url = args.database or f"sqlite:///{Settings.from_env().var_dir / 'demo.db'}"
    store = Store(url)
    try:
        summary = generate(store, days=args.days, seed=args.seed, replace=args.replace)
    except (KopruError, ImportError) as exc:
        # ImportError: a database URL whose driver is not installed.
        lines = str(exc).strip().splitlines() or ["unknown error"]
        print(f"kopru demo-data: {lines[0][:300]}", file=sys.stderr)
        return 2
    finally:
        store.close()

    def local(at: float) -> str:
        return dt.datetime.fromtimestamp(at, DESK.timezone).strftime("%Y-%m-%d %H:%M")

    print(
        f"Wrote {summary.conversations} demo conversations, {summary.handoffs} handoffs and "
        f"{summary.surveys} surveys from {local(summary.start)} to {local(summary.end)} "
        f"({DESK.timezone_name}) into {url}"
    )
    print(f"See them with: kopru report --database {shlex.quote(url)}")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from bot.web.server import WebSettings, serve

    settings = WebSettings.from_env(
        database_url=args.database, demo_database_url=args.demo_database
    )
    shown = "localhost" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    print(f"Köprü dashboard: http://{shown}:{args.port}/dashboard", flush=True)
    if settings.admin_token_generated:
        print(f"Admin token: {settings.admin_token}  (generated; set KOPRU_ADMIN_TOKEN to fix it)",
              flush=True)  # fmt: skip
    try:
        serve(settings, args.host, args.port)
    except OSError as exc:
        print(f"kopru web: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_admin_user(args: argparse.Namespace) -> int:
    from bot.web.accounts import AccountError, admins_file_from_env, manage

    path = Path(args.file) if args.file else admins_file_from_env()
    try:
        manage(
            args.action,
            path,
            getattr(args, "name", None),
            role=getattr(args, "role", "admin"),
            password_stdin=sys.stdin if getattr(args, "password_stdin", False) else None,
        )
    except AccountError as exc:
        print(f"kopru admin-user: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"kopru admin-user: cannot write {path}: {exc}", file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\nkopru admin-user: nothing was changed", file=sys.stderr)
        return 1
    return 0


def _customer_databases(args: argparse.Namespace) -> tuple[list[Database], list[str]]:
    from bot.privacy.rights import databases, tracker_location

    notes: list[str] = []
    tracker = args.tracker_database
    if not tracker:
        tracker, why_not = tracker_location(PROJECT_ROOT, os.environ)
        if why_not:
            notes.append(why_not)
    store = args.database or Settings.from_env().database_url
    return databases(store, tracker), notes


def cmd_forget(args: argparse.Namespace) -> int:
    from bot.privacy.rights import PrivacyError, forget, out_of_reach

    sender = args.sender
    dbs, notes = _customer_databases(args)
    try:
        erasure = forget(sender, dbs, dry_run=args.dry_run)
    except PrivacyError as exc:
        print(f"kopru forget: {_one_line(str(exc))}", file=sys.stderr)
        print("That database was left as it was; run the command again once it is "
              "reachable.", file=sys.stderr)  # fmt: skip
        return 1
    notes += erasure.notes
    looked = "; ".join(f"{d.name} ({d.shown_url})" for d in erasure.looked_in)
    if erasure.total == 0:
        print(f"Nothing stored about customer {sender!r} (looked in {looked}).")
        print("The sender id is the one Rasa sees: for Telegram, the chat id.")
        for note in notes:
            print(f"Note: {note}")
        return 0
    verb = "Would erase" if erasure.dry_run else "Erased"
    print(f"{verb} {erasure.total} rows about customer {sender!r}:")
    width = max(len(c.table) for c in erasure.counts)
    for database in erasure.looked_in:
        counts = [c for c in erasure.counts if c.database == database.name]
        if counts:
            print(f"  {database.name} ({database.shown_url}):")
            for count in counts:
                print(f"    {count.table:<{width}}  {count.rows}")
    for note in notes:
        print(f"Note: {note}")
    print("Köprü cannot erase these; do it by hand where it applies:")
    for line in out_of_reach(erasure.slack_cards):
        print(f"  - {line}")
    if erasure.dry_run:
        print("Dry run: nothing was changed.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import json

    from bot.privacy.rights import PrivacyError, export, exported_rows

    dbs, notes = _customer_databases(args)
    try:
        data = export(args.sender, dbs)
    except PrivacyError as exc:
        print(f"kopru export: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    data["notes"] = notes + data["notes"]
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    rows = exported_rows(data)
    if args.output:
        path = Path(args.output)
        try:
            # Personal data: readable by the owner only.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            print(f"kopru export: cannot write {path}: {exc}", file=sys.stderr)
            return 1
        print(f"Wrote {rows} rows about customer {args.sender!r} to {path}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if rows == 0:
        print(f"Nothing stored about customer {args.sender!r}.", file=sys.stderr)
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    import signal
    import threading
    from types import FrameType

    from bot.errors import ConfigError
    from bot.serving.events import FirstAnswer, consume
    from bot.storage.store import Store

    url = os.environ.get("KOPRU_RABBITMQ_URL")
    if not url:
        raise ConfigError("set KOPRU_RABBITMQ_URL (amqp://user:password@host:5672/)")
    store = Store(Settings.from_env().database_url)
    store.create_schema()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def record(answer: FirstAnswer) -> None:
        store.record_first_answer(answer.sender_id, answer.session_started_at, answer.seconds)

    print("Consuming Rasa's events from RabbitMQ.", flush=True)
    consume(url, record, stop=stop)
    store.close()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from bot.storage import migrate
    from bot.storage.database_url import shown_url

    url = args.database or Settings.from_env().database_url
    print(f"Database: {shown_url(url)}")
    try:
        before = migrate.current(url)
        print(f"Revision before: {before or 'none'}", flush=True)
        applied = migrate.upgrade(url)
        after = migrate.current(url)
    except (SQLAlchemyError, CommandError, OSError, ImportError, KopruError) as exc:
        # ImportError: a database URL whose driver is not installed.
        print(f"kopru migrate: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    print(f"Applied: {', '.join(applied) or 'nothing (already at the head)'}")
    print(f"Revision after: {after}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kopru",
        description="Köprü: a multilingual customer-support bot on Rasa Open Source.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="train if needed, then start the bot (Rasa server, action server, demo backend)",
        description="Train a model if none matches the current data, then start the Rasa "
        "server (HTTP API on, protected by KOPRU_API_TOKEN or a generated token printed at "
        "start), the action server and the demo order backend, and print where the web "
        "chat is. Ctrl-C stops everything.",
    )
    run.add_argument("--host", default="0.0.0.0", help="interface of the Rasa server")  # noqa: S104
    run.add_argument("--port", type=int, default=5005, help="Rasa server port (5005)")
    run.add_argument("--action-port", type=int, default=5055, help="action server port (5055)")
    run.add_argument("--demo-backend-port", type=int, default=5056,
                     help="demo order backend port (5056)")  # fmt: skip
    run.add_argument("--no-demo-backend", action="store_true",
                     help="do not start the demo backend; use KOPRU_ORDERS_URL")  # fmt: skip
    run.add_argument("--web-port", type=int, default=5057,
                     help="dashboard port (5057); 0 to not start it")  # fmt: skip
    run.add_argument("--model", help="model archive to serve (default: the one for the data)")
    run.add_argument("--endpoints", help="endpoints file (default endpoints.yml)")
    run.add_argument("--credentials", help="channels file (default credentials.yml)")
    run.add_argument("--action-url",
                     help="an action server run elsewhere (http://host:5055/webhook); none is "
                     "started here. It must share KOPRU_ACTION_SECRET")  # fmt: skip
    run.add_argument("--scaled", action="store_true",
                     help="PostgreSQL (KOPRU_DATABASE_URL), Redis (KOPRU_REDIS_URL), optional "
                     "RabbitMQ (KOPRU_RABBITMQ_URL), --replicas Rasa servers behind nginx on "
                     "--port")  # fmt: skip
    run.add_argument("--replicas", type=int, default=2,
                     help="Rasa replicas in the scaled mode (2), on --port+1 and up")  # fmt: skip
    run.set_defaults(func=cmd_run)

    train = commands.add_parser(
        "train",
        help="train the model if the data changed",
        description="Train a Rasa model from config.yml, domain.yml and data/ into models/, "
        "named after a hash of those files; nothing is trained when that model exists.",
    )
    train.add_argument("--force", action="store_true", help="train even if the model exists")
    train.set_defaults(func=cmd_train)

    shell = commands.add_parser(
        "shell",
        help="talk to the bot in the terminal",
        description="Start the action server and demo backend, then Rasa's interactive "
        "shell on the current model.",
    )
    shell.add_argument("--model", help="model archive (default: the one for the data)")
    shell.add_argument("--action-port", type=int, default=5055)
    shell.add_argument("--demo-backend-port", type=int, default=5056)
    shell.set_defaults(func=cmd_shell)

    actions = commands.add_parser(
        "actions",
        help="run the action server (started by `kopru run`)",
        description="Check the configuration and the store, load the language models, then "
        "serve Köprü's custom actions to the Rasa server. With KOPRU_ACTION_SECRET (`kopru "
        "run` sets one) every call but /health must carry it in the X-Kopru-Action-Secret "
        "header; without a secret it only listens on a loopback address.",
    )
    actions.add_argument("--host", default=None,
                         help="interface to listen on (default: KOPRU_ACTION_HOST or "
                         "127.0.0.1)")  # fmt: skip
    actions.add_argument("--port", type=int, default=5055)
    actions.add_argument("--loglevel", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    actions.set_defaults(func=cmd_actions)

    demo = commands.add_parser(
        "demo-backend",
        help="serve the demo order backend with sample orders",
        description="Serve the sample order backend (orders, returns, invoices) that "
        "`kopru run` starts by default.",
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=5056)
    demo.set_defaults(func=cmd_demo_backend)

    report = commands.add_parser(
        "report",
        help="print the metrics report (NPS, CSAT, containment, FCR, times) for a period",
        description="Compute Köprü's metrics from its store for a period of whole days in "
        "UTC: NPS, CSAT, containment, escalation rate, first contact resolution, time to "
        "first answer, time from queue to claim and handling time, overall and by channel, "
        "language, topic and resolver, with weekly series and the topics that lead to "
        "escalation and to detractors. Bad arguments or an unreachable database exit with 2.",
    )
    report.add_argument("--from", dest="from_date", metavar="YYYY-MM-DD",
                        help="first day (default: --days days before --to)")  # fmt: skip
    report.add_argument("--to", dest="to_date", metavar="YYYY-MM-DD",
                        help="last day, included (default: today, UTC)")  # fmt: skip
    report.add_argument("--days", default="30", metavar="N",
                        help="length of the period when --from is absent (30)")  # fmt: skip
    report.add_argument("--database", metavar="URL",
                        help="SQLAlchemy URL of Köprü's store (default: KOPRU_DATABASE_URL "
                        "or var/kopru.db)")  # fmt: skip
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.add_argument("--charts", metavar="DIR", help="also write PNG charts into DIR")
    report.set_defaults(func=cmd_report)

    demo_data = commands.add_parser(
        "demo-data",
        help="fill a separate store with a simulated month of conversations for the dashboard",
        description="Write simulated conversations, handoffs and surveys (customers with "
        "sender ids starting with 'demo-') so that the report and dashboard have something "
        "to show. The store must hold no real customers; errors exit with 2.",
    )
    demo_data.add_argument("--database", metavar="URL",
                           help="SQLAlchemy URL of the store to fill (default: var/demo.db, "
                           "apart from the real var/kopru.db)")  # fmt: skip
    demo_data.add_argument("--days", type=int, default=30, help="days to simulate (30)")
    demo_data.add_argument("--seed", type=int, default=7,
                           help="random seed; the same seed gives the same data (7)")  # fmt: skip
    demo_data.add_argument("--replace", action="store_true",
                           help="delete earlier demo rows first (never real ones)")  # fmt: skip
    demo_data.set_defaults(func=cmd_demo_data)

    web = commands.add_parser(
        "web",
        help="serve the support dashboard (sign in with an account or the admin token)",
        description="Serve Köprü's web app: sign in with an account from `kopru admin-user` "
        "(KOPRU_ADMINS_FILE), or with no username and KOPRU_ADMIN_TOKEN (else "
        "KOPRU_API_TOKEN; else a token generated and printed at start) as the password; see "
        "the metrics "
        "of any period, live or from the demo database, with charts. One process, no "
        "JavaScript, nothing loaded from elsewhere.",
    )
    web.add_argument("--host", default="127.0.0.1", help="interface to listen on (127.0.0.1)")
    web.add_argument("--port", type=int, default=5057, help="port (5057)")
    web.add_argument("--database", metavar="URL",
                     help="SQLAlchemy URL of Köprü's store (default: KOPRU_DATABASE_URL or "
                     "var/kopru.db)")  # fmt: skip
    web.add_argument("--demo-database", metavar="URL",
                     help="store offered as 'Demo data' when it exists (default: var/demo.db, "
                     "filled by kopru demo-data)")  # fmt: skip
    web.set_defaults(func=cmd_web)

    admin_user = commands.add_parser(
        "admin-user",
        help="add, list, remove dashboard accounts or change their passwords",
        description="Manage the dashboard's accounts in KOPRU_ADMINS_FILE (default "
        "var/admins.yml; written atomically, mode 0600, passwords stored as PBKDF2 hashes). "
        "Role admin may change things, viewer may only look. The dashboard notices changes "
        "at once; a removed account or a changed password ends its sessions. Without any "
        "account, sign in with the username empty and the admin token as the password.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--file", metavar="PATH",
                        help="the accounts file (default: KOPRU_ADMINS_FILE or "
                        "var/admins.yml)")  # fmt: skip
    stdin = argparse.ArgumentParser(add_help=False)
    stdin.add_argument("--password-stdin", action="store_true",
                       help="read the password from the first line of standard input "
                       "instead of asking twice")  # fmt: skip
    actions_of_user = admin_user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions_of_user.add_parser("add", parents=[common, stdin], help="add an account")
    add.add_argument("name", metavar="NAME", help="username (lowercase)")
    add.add_argument("--role", choices=["admin", "viewer"], default="admin",
                     help="admin (default) or viewer")  # fmt: skip
    actions_of_user.add_parser("list", parents=[common], help="list accounts and roles")
    remove = actions_of_user.add_parser("remove", parents=[common], help="remove an account")
    remove.add_argument("name", metavar="NAME")
    passwd = actions_of_user.add_parser("passwd", parents=[common, stdin],
                                        help="set a new password")  # fmt: skip
    passwd.add_argument("name", metavar="NAME")
    admin_user.set_defaults(func=cmd_admin_user)

    stores = argparse.ArgumentParser(add_help=False)
    stores.add_argument("sender", metavar="SENDER",
                        help="the customer's sender id as Rasa sees it (Telegram: the "
                        "chat id)")  # fmt: skip
    stores.add_argument("--database", metavar="URL",
                        help="SQLAlchemy URL of Köprü's store (default: KOPRU_DATABASE_URL "
                        "or var/kopru.db)")  # fmt: skip
    stores.add_argument("--tracker-database", metavar="URL",
                        help="SQLAlchemy URL of Rasa's tracker store (default: "
                        "KOPRU_TRACKER_DB_URL, else the SQL tracker store of "
                        "endpoints.yml)")  # fmt: skip
    forget = commands.add_parser(
        "forget",
        parents=[stores],
        help="erase everything stored about one customer (right to erasure)",
        description="Delete every row about SENDER from Köprü's tables (conversations, "
        "handoffs, surveys, outbox, deletion requests, deliveries) and Rasa's tracker store, "
        "in one transaction per database; print the rows erased per table and what Köprü "
        "cannot erase (the Slack cards and threads, listed so that an admin can delete them; "
        "Telegram's chat history; backups; an event broker's consumers). An unknown sender "
        "changes nothing and exits with 0; a database error exits with 1.",
    )
    forget.add_argument("--dry-run", action="store_true",
                        help="count what would be erased, change nothing")  # fmt: skip
    forget.set_defaults(func=cmd_forget)
    export = commands.add_parser(
        "export",
        parents=[stores],
        help="write everything stored about one customer as JSON (right of access)",
        description="Write every row about SENDER in Köprü's tables and Rasa's tracker store "
        "(the conversation events) as JSON, to standard output or FILE (created readable by "
        "its owner only), with what is kept elsewhere and not included.",
    )
    export.add_argument("--output", metavar="FILE", help="write the JSON to FILE")
    export.set_defaults(func=cmd_export)
    events = commands.add_parser(
        "events",
        help="consume Rasa's event broker (RabbitMQ) for the metrics",
        description="Read the events every Rasa replica publishes to RabbitMQ "
        "(KOPRU_RABBITMQ_URL, queue kopru_events) and record each conversation's time to "
        "first answer in Köprü's store (KOPRU_DATABASE_URL). `kopru run --scaled` starts it "
        "when KOPRU_RABBITMQ_URL is set. Ctrl-C stops it.",
    )
    events.set_defaults(func=cmd_events)
    migrate = commands.add_parser(
        "migrate",
        help="bring Köprü's tables to this version (database migrations)",
        description="Apply the database migrations Köprü's store (KOPRU_DATABASE_URL, "
        "default var/kopru.db) lacks, and print its revision before and after. A database "
        "made by a Köprü from before the migrations is taken over. Every Köprü process does "
        "this at start as well (one at a time); only Köprü's tables are touched, never "
        "Rasa's. A database error exits with 1.",
    )
    migrate.add_argument("--database", metavar="URL",
                         help="SQLAlchemy URL of Köprü's store (default: KOPRU_DATABASE_URL "
                         "or var/kopru.db)")  # fmt: skip
    migrate.set_defaults(func=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        # A Köprü process starts here: nothing it logs may carry personal data or secrets.
        # (Tests call main with arguments and keep their own logging.)
        from bot.privacy.logsafety import install
        from bot.quiet import install as quiet_warnings

        quiet_warnings()
        install()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KopruError as exc:
        print(f"kopru: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
