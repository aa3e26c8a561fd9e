"""Köprü's NLU components for Rasa: a sentence encoder that runs on NumPy from a model
shipped inside a PyPI package, and a linear intent classifier over sparse and dense
features."""
