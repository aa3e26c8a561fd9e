"""The old path of Köprü's policy, kept so models trained before bot/dialogue/ still load.

A model archive records each component by class path (`bot.policy.KopruPolicy` for models
trained before the layout of issue 14); rolling back to such a model imports this module.
New models record `bot.dialogue.policy.KopruPolicy`.
"""

from __future__ import annotations

from bot.dialogue.policy import KopruPolicy

__all__ = ["KopruPolicy"]
