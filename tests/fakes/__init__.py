"""Local fakes of external services used by Köprü's tests (they only ever bind 127.0.0.1)."""
