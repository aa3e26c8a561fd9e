"""A quiet start: third-party deprecation notices hidden, Köprü's own warnings kept.

Importing Rasa 3.6 prints about 80 lines a newcomer can do nothing about: deprecations
inside TensorFlow, jax, SQLAlchemy (its 2.0 "uber" warning), sanic_cors (distutils),
matplotlib (pyparsing) and pkg_resources, and TensorFlow's C++ "I tensorflow" lines.
`install()` is called first thing by each Köprü process's entry point (never on import):

* `DeprecationWarning`, `PendingDeprecationWarning` and their subclasses are ignored unless
  they are attributed to Köprü's own code (`bot`, `channels`, `actions`): a library call of
  ours that is deprecated still shows, since a library warns with the caller's module;
* every other warning (a `UserWarning` about the training data, a `RuntimeWarning`) shows;
* TensorFlow's C++ logging is limited to errors and SQLAlchemy's 2.0 migration notice is
  silenced, through the variables those libraries read, unless the operator set them.

`KOPRU_WARNINGS=all` turns this off (these filters are consulted before `-W` and
`PYTHONWARNINGS` ones).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, MutableMapping
from typing import TextIO

__all__ = ["OWN_MODULES", "install", "quiet_environment"]

OWN_MODULES = r"(bot|channels|actions)(\.|$)"
SWITCH = "KOPRU_WARNINGS"

_LIBRARY_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ side: errors only
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",  # SQLAlchemy 1.4's "2.0 is coming" notice
}


def quiet_environment(env: MutableMapping[str, str]) -> None:
    """Set the libraries' own switches in `env` (child processes inherit them)."""
    if env.get(SWITCH) == "all":
        return
    for name, value in _LIBRARY_ENV.items():
        env.setdefault(name, value)


def install() -> None:
    """Hide third-party deprecation notices in this process; keep Köprü's and real warnings."""
    quiet_environment(os.environ)
    if os.environ.get(SWITCH) == "all":
        return
    for category in (DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        # Inserted after, so consulted first: our own code's deprecations still show.
        warnings.filterwarnings("default", category=category, module=OWN_MODULES)
    # Filters added later come first: sanic.app's `filterwarnings("once", DeprecationWarning)`
    # on import, Rasa's `filterwarnings("once", UserWarning)` at start (which brings back
    # pyparsing's deprecation, both a UserWarning and a DeprecationWarning). The last word
    # is therefore here, where a warning is shown.
    if not getattr(warnings.showwarning, "kopru_quiet", False):
        warnings.showwarning = _without_library_deprecations(warnings.showwarning)


def _own_folders() -> tuple[str, ...]:
    folders = []
    for package in ("bot", "channels", "actions"):
        spec = importlib.util.find_spec(package)
        for location in (spec.submodule_search_locations or []) if spec else []:
            folders.append(os.path.join(os.path.realpath(location), ""))
    return tuple(folders)


def _without_library_deprecations(show: Callable[..., None]) -> Callable[..., None]:
    own = _own_folders()

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        deprecation = issubclass(category, DeprecationWarning | PendingDeprecationWarning)
        if deprecation and not os.path.realpath(filename).startswith(own):
            return
        show(message, category, filename, lineno, file, line)

    showwarning.kopru_quiet = True  # type: ignore[attr-defined]
    return showwarning


def run_quietly(argv: list[str]) -> None:
    """`python -m bot.quiet rasa ARGS`: Rasa's own command line (`rasa train` for the
    trainer) with this module's filters, since `PYTHONWARNINGS` cannot keep ours."""
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *argv]
    rasa_main()


if __name__ == "__main__":
    if sys.argv[1:2] != ["rasa"]:
        sys.exit("usage: python -m bot.quiet rasa ARGS")
    run_quietly(sys.argv[2:])
