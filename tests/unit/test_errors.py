"""One error tree: every exception class Köprü defines derives from bot.errors.KopruError."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import pkgutil
from types import ModuleType

import pytest

from bot.errors import KopruError

PACKAGES = ("bot", "channels", "actions")

# The exceptions that are not KopruErrors on purpose, each with its reason.
NOT_KOPRU_ERRORS: dict[str, str] = {
    "bot.errors.TrackerStoreUnavailable": (
        "a BaseException, so that Rasa's FailSafeTrackerStore and message processor, which "
        "catch every Exception and go on with an empty tracker, let it through to the "
        "channels (which answer 503 so that the sender retries)"
    ),
}

# Modules that must not be imported here, each with its reason (and they define no class,
# which test_the_scripts_define_no_class checks without importing them).
NOT_IMPORTED: dict[str, str] = {
    "bot.storage.migrations.env": "Alembic's environment script: importing it runs the migrations",
}


def _module_names() -> list[str]:
    names: list[str] = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        names.append(name)
        names.extend(
            info.name for info in pkgutil.walk_packages(package.__path__, prefix=f"{name}.")
        )
    return names


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in _module_names() if name not in NOT_IMPORTED]


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined (not just imported) at the top of a Köprü module."""
    classes: dict[str, type[BaseException]] = {}
    for module in _modules():
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                classes[f"{value.__module__}.{value.__qualname__}"] = value
    return classes


@pytest.fixture(scope="module")
def exception_classes() -> dict[str, type[BaseException]]:
    return _exception_classes()


def test_the_walk_finds_the_exceptions_of_every_package(
    exception_classes: dict[str, type[BaseException]],
) -> None:
    # Guards the test below against passing because it looked at nothing.
    assert {"bot.errors.KopruError", "bot.web.auth.SignInRefused"} <= exception_classes.keys()
    assert any(name.startswith("channels.") for name in exception_classes)


def test_every_exception_is_a_kopru_error(
    exception_classes: dict[str, type[BaseException]],
) -> None:
    outside = sorted(
        name
        for name, cls in exception_classes.items()
        if not issubclass(cls, KopruError) and name not in NOT_KOPRU_ERRORS
    )
    assert outside == [], "derive these from bot.errors.KopruError (or allow-list them)"


def test_the_allow_list_is_current(exception_classes: dict[str, type[BaseException]]) -> None:
    for name in NOT_KOPRU_ERRORS:
        assert name in exception_classes, f"{name} no longer exists"
        assert not issubclass(exception_classes[name], KopruError), f"{name} is a KopruError now"


def test_the_scripts_define_no_class() -> None:
    names = _module_names()
    for name in NOT_IMPORTED:
        assert name in names, f"{name} no longer exists"
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None
        with open(spec.origin, encoding="utf-8") as source:
            tree = ast.parse(source.read())
        assert not [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)], name


def test_a_period_error_is_still_a_value_error() -> None:
    from bot.insights.periods import PeriodError

    assert issubclass(PeriodError, KopruError)
    assert issubclass(PeriodError, ValueError)
