"""The `kopru` command line: run, train, shell, demo-backend."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.errors import KopruError
from bot.settings import PROJECT_ROOT

__all__ = ["main"]


def _models_dir(root: Path) -> Path:
    return Path(os.environ.get("KOPRU_MODELS_DIR") or root / "models")


def _model(args: argparse.Namespace, root: Path) -> Path:
    from bot.training import ensure_model

    if getattr(args, "model", None):
        return Path(args.model)
    print("Checking the model (training only when the data changed)...", flush=True)
    return ensure_model(root, _models_dir(root))


def cmd_train(args: argparse.Namespace) -> int:
    from bot.training import ensure_model

    path = ensure_model(PROJECT_ROOT, _models_dir(PROJECT_ROOT), force=args.force)
    print(f"Model: {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.runner import RunConfig, api_token_from_env, run
    from bot.training import child_env

    config = RunConfig(
        root=PROJECT_ROOT,
        model=_model(args, PROJECT_ROOT),
        host=args.host,
        port=args.port,
        action_port=args.action_port,
        demo_backend=not args.no_demo_backend,
        demo_backend_port=args.demo_backend_port,
        endpoints=Path(args.endpoints) if args.endpoints else None,
        credentials=Path(args.credentials) if args.credentials else None,
        token=api_token_from_env(),
    )
    return run(config, child_env())


def cmd_shell(args: argparse.Namespace) -> int:
    from bot.runner import Supervisor, effective_endpoints
    from bot.training import child_env

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
    from rasa_sdk.endpoint import run

    from actions.services import get_services
    from bot.language import default_detector

    utils.configure_colored_logging(args.loglevel)
    utils.update_sanic_log_level()
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Fail at start on a broken configuration or store, not at a customer's first message,
    # and load the language models now rather than while a customer waits.
    get_services()
    default_detector().warm_up()
    run("actions", port=args.port, cors_origins=None)
    return 0


def cmd_demo_backend(args: argparse.Namespace) -> int:
    from bot.demo_backend import serve

    serve(args.host, args.port)
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
    run.add_argument("--model", help="model archive to serve (default: the one for the data)")
    run.add_argument("--endpoints", help="endpoints file (default endpoints.yml)")
    run.add_argument("--credentials", help="channels file (default credentials.yml)")
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
        "serve Köprü's custom actions to the Rasa server.",
    )
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KopruError as exc:
        print(f"kopru: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
