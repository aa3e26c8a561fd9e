"""Köprü custom actions for the Rasa action server, one module per area."""
