"""Köprü custom actions for the Rasa action server, one module per area."""

from __future__ import annotations

__all__ = ["warm_up"]


def warm_up() -> None:
    """Build the services and load the language models before the first action call
    (`kopru actions` calls it through bot.serving.action_server.warm_up)."""
    from actions.services import get_services
    from bot.nlu.language import default_detector

    get_services()
    default_detector().warm_up()
