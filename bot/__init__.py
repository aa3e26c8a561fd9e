"""Köprü core: independent of any one channel."""
