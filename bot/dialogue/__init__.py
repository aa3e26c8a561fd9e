"""Köprü's dialogue policy for Rasa (KopruPolicy): the turns it takes over from Rasa's own.

May import: bot.errors, bot.settings, Rasa. Trained models name the policy by class path;
`bot/policy.py` keeps the path of models trained before this package existed.
"""
