"""Köprü channel connectors for Rasa (input and output channels)."""
