"""Köprü's web app: sign-in and the support dashboard (the admin pages will join them).

`create_app(WebSettings)` builds the Sanic app (the modules are in `bot.web`); `serve` runs
it in this process, one worker, no fork: `kopru web`, or a child of `kopru run`.
"""

from __future__ import annotations

import warnings

from bot.observability import WEB_PORT_ENV, start_metrics_listener
from bot.serving.gauges import database_gauges
from bot.web.app import create_app
from bot.web.settings import WebSettings

__all__ = ["DEFAULT_PORT", "WebSettings", "create_app", "serve"]

DEFAULT_PORT = 5057


def serve(settings: WebSettings, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
    """Serve until SIGINT or SIGTERM (a graceful stop)."""
    # matplotlib 3.5 calls pyparsing APIs that pyparsing 3.3 deprecates: noise, not news.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"matplotlib(\.|$)")
    app = create_app(settings, configure_logging=True)
    # Trainings and the database gauges; off unless KOPRU_WEB_METRICS_PORT is set.
    start_metrics_listener(WEB_PORT_ENV, collectors=[database_gauges(settings.database_url)])
    app.run(
        host=host,
        port=port,
        workers=1,
        debug=False,
        auto_reload=False,
        access_log=False,
        motd=False,
    )
