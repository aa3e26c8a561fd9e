"""The deployment files (Dockerfile, deploy/, docs/DEPLOY.md) against the code they run.

Nothing here builds an image or talks to a cluster (docs/DEPLOY.md says what was not
run). What can be checked offline is checked: the YAML parses; the values use keys of the
charts they are for; Rasa reads the endpoints and credentials the rasa chart would write
from them; the commands are accepted by Köprü's and Rasa's own argument parsers; every
environment variable set is one something reads; secrets come from the Secret the docs
create; the HTTP API always needs a token and the action server a shared secret.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import shlex
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import tomli
import yaml

from bot.authoring.training import _training_files
from bot.cli import build_parser
from bot.serving.action_server import SECRET_ENV, SECRET_HEADER, is_loopback
from bot.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT
DEPLOY = ROOT / "deploy"
HELM = DEPLOY / "helm"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"
SECRET_NAME = "kopru-secrets"

# --- What the charts accept ------------------------------------------------------------
# Key paths of each chart's values, read from the chart sources at the versions the values
# files name (RasaHQ/helm-charts: charts/rasa 1.17.3 values.yaml, values.schema.json and
# templates incl. rasa-common; charts/rasa-action-server 1.0.7; bitnami/charts: postgresql
# 16.x, redis 20.x). "x.*" allows anything below x (free-form maps such as resources).
# Only the keys Köprü's values may plausibly use are listed for the Bitnami charts.

_COMMON_DEPLOYMENT_KEYS = {
    "nameOverride", "fullnameOverride", "registry", "replicaCount", "args", "command",
    "extraEnv", "image.name", "image.tag", "image.repository", "image.pullPolicy",
    "image.pullSecrets", "serviceAccount.create", "serviceAccount.annotations.*",
    "serviceAccount.name", "podAnnotations.*", "podLabels.*", "deploymentAnnotations.*",
    "deploymentLabels.*", "podSecurityContext.*", "securityContext.*", "service.type",
    "service.port", "service.annotations.*", "service.nodePort", "service.loadBalancerIP",
    "service.externalTrafficPolicy", "ingress.enabled", "ingress.annotations.*",
    "ingress.labels.*", "ingress.pathType", "ingress.path", "ingress.hostname",
    "ingress.tls", "ingress.extraPaths", "resources.*", "autoscaling.enabled",
    "autoscaling.minReplicas", "autoscaling.maxReplicas",
    "autoscaling.targetCPUUtilizationPercentage", "nodeSelector.*", "tolerations",
    "affinity.*", "strategy.*", "livenessProbe.*", "readinessProbe.*", "initContainers",
    "volumes", "volumeMounts", "applicationSettings.port", "applicationSettings.scheme",
}  # fmt: skip

_ENDPOINT_KEYS = {
    "trackerStore": ("enabled", "type", "dialect", "url", "port", "username", "password",
                     "db", "login_db"),
    "lockStore": ("enabled", "type", "url", "port", "password", "db"),
    "eventBroker": ("enabled", "type", "url", "username", "password", "port", "queues"),
    "models": ("enabled", "url", "token", "waitTimeBetweenPulls",
               "useRasaXasModelServer.enabled", "useRasaXasModelServer.tag"),
}  # fmt: skip

RASA_CHART_KEYS = _COMMON_DEPLOYMENT_KEYS | {
    "applicationSettings.debugMode", "applicationSettings.initialModel",
    "applicationSettings.trainInitialModel", "applicationSettings.token",
    "applicationSettings.cors", "applicationSettings.enableAPI",
    "applicationSettings.credentials.enabled",
    "applicationSettings.credentials.additionalChannelCredentials.*",
    "applicationSettings.telemetry.enabled",
    "applicationSettings.endpoints.action.endpointURL",
    "applicationSettings.endpoints.additionalEndpoints.*",
    "applicationSettings.rasaX.enabled", "applicationSettings.rasaX.token",
    "applicationSettings.rasaX.url", "applicationSettings.rasaX.useConfigEndpoint",
    "networkPolicy.enabled", "networkPolicy.denyAll", "extraArgs", "extraContainers",
    "global.postgresql.postgresqlUsername", "global.postgresql.postgresqlPassword",
    "global.postgresql.existingSecret", "global.postgresql.postgresqlDatabase",
    "global.postgresql.servicePort", "global.redis.password",
    "postgresql.install", "postgresql.external.enabled", "postgresql.external.host",
    "redis.install", "redis.replica.replicaCount", "redis.auth.password",
    "redis.external.enabled", "redis.external.host",
    "rabbitmq.install", "rabbitmq.auth.username", "rabbitmq.auth.password",
    "rabbitmq.auth.existingPasswordSecret", "rabbitmq.auth.erlangCookie",
    "rabbitmq.external.enabled", "rabbitmq.external.host",
    "nginx.enabled", "nginx.image.name", "nginx.image.tag", "nginx.livenessProbe.*",
    "nginx.readinessProbe.*", "nginx.port", "nginx.resources.*", "nginx.securityContext.*",
    "nginx.tls.enabled", "nginx.tls.port", "nginx.tls.generateSelfSignedCert",
    "nginx.tls.certificateSecret", "nginx.customConfiguration.*",
    "rasa-action-server.install", "rasa-action-server.external.enabled",
    "rasa-action-server.external.url", "duckling.install", "duckling.external.enabled",
    "duckling.external.url",
    # Read by the templates (rasa-common's _postgresql.tpl and _redis.tpl, the rasa
    # chart's deployment.yaml, ingress.yaml and secret.yaml), absent from values.yaml.
    "postgresql.existingSecretKey", "redis.existingSecret", "redis.existingSecretPasswordKey",
    "redis.master.service.port", "ingress.ingressClassName", "hostAliases",
    "applicationSettings.rasaX.jwtSecret",
} | {
    f"applicationSettings.endpoints.{section}.{key}"
    for section, keys in _ENDPOINT_KEYS.items()
    for key in keys
}  # fmt: skip

ACTION_SERVER_CHART_KEYS = set(_COMMON_DEPLOYMENT_KEYS)

POSTGRESQL_CHART_KEYS = {
    "architecture", "auth.enablePostgresUser", "auth.postgresPassword", "auth.username",
    "auth.password", "auth.database", "auth.replicationUsername", "auth.replicationPassword",
    "auth.existingSecret", "auth.secretKeys.adminPasswordKey",
    "auth.secretKeys.userPasswordKey", "auth.secretKeys.replicationPasswordKey",
    "auth.usePasswordFiles", "image.registry", "image.repository", "image.tag",
    "global.security.allowInsecureImages", "global.imageRegistry",
    "global.defaultStorageClass", "primary.persistence.enabled", "primary.persistence.size",
    "primary.persistence.storageClass", "primary.persistence.existingClaim",
    "primary.resources.*", "primary.resourcesPreset", "primary.initdb.scripts.*",
}  # fmt: skip

REDIS_CHART_KEYS = {
    "architecture", "auth.enabled", "auth.password", "auth.existingSecret",
    "auth.existingSecretPasswordKey", "auth.usePasswordFiles", "image.registry",
    "image.repository", "image.tag", "global.security.allowInsecureImages",
    "global.imageRegistry", "master.persistence.enabled", "master.persistence.size",
    "master.persistence.storageClass", "master.resources.*", "master.resourcesPreset",
    "master.service.ports.redis", "replica.replicaCount",
}  # fmt: skip

# Types from the charts' values.schema.json for keys the values set (Helm refuses a
# release whose values break the schema). The rasa-action-server schema types
# image.repository, nameOverride and fullnameOverride as null: they must stay unset there.
RASA_SCHEMA_TYPES: dict[str, type | tuple[type, ...]] = {
    "replicaCount": int, "registry": str, "args": list, "command": list, "extraEnv": list,
    "image.name": str, "image.tag": str, "image.repository": str, "service.port": int,
    "applicationSettings.port": int, "applicationSettings.initialModel": str,
    "applicationSettings.trainInitialModel": bool, "applicationSettings.enableAPI": bool,
    "applicationSettings.credentials.enabled": bool,
    "applicationSettings.credentials.additionalChannelCredentials": dict,
    "applicationSettings.endpoints.additionalEndpoints": dict,
    "applicationSettings.endpoints.trackerStore.port": str,
    "applicationSettings.endpoints.trackerStore.db": str,
    "applicationSettings.endpoints.lockStore.port": str,
    "applicationSettings.endpoints.lockStore.db": str,
    "applicationSettings.endpoints.eventBroker.port": str,
    "global.postgresql.servicePort": int, "ingress.extraPaths": dict,
    "livenessProbe.httpGet.port": str, "readinessProbe.httpGet.port": str,
    "fullnameOverride": str, "nameOverride": str,
}  # fmt: skip
ACTION_SERVER_SCHEMA_TYPES: dict[str, type | tuple[type, ...]] = {
    "replicaCount": int, "registry": str, "args": list, "command": list, "extraEnv": list,
    "image.name": str, "image.tag": str, "service.port": int, "applicationSettings.port": int,
    "livenessProbe.httpGet.port": str, "readinessProbe.httpGet.port": str,
    "image.repository": type(None), "fullnameOverride": type(None), "nameOverride": type(None),
    "ingress.extraPaths": dict,
}  # fmt: skip


@dataclass(frozen=True)
class Chart:
    name: str  # the chart's name (its fullname template uses it)
    reference: str  # what `helm install` is given
    keys: frozenset[str]
    schema: Mapping[str, type | tuple[type, ...]]


CHARTS = {
    chart.reference: chart
    for chart in (
        Chart("rasa", "rasa/rasa", frozenset(RASA_CHART_KEYS), RASA_SCHEMA_TYPES),
        Chart("rasa-action-server", "rasa/rasa-action-server",
              frozenset(ACTION_SERVER_CHART_KEYS), ACTION_SERVER_SCHEMA_TYPES),
        Chart("postgresql", "oci://registry-1.docker.io/bitnamicharts/postgresql",
              frozenset(POSTGRESQL_CHART_KEYS), {}),
        Chart("redis", "oci://registry-1.docker.io/bitnamicharts/redis",
              frozenset(REDIS_CHART_KEYS), {}),
    )
}  # fmt: skip

# Environment the rasa chart sets itself in the Rasa container (_containers-env.yaml and
# rasa-common): what ${...} in its endpoints may use besides extraEnv.
RASA_CHART_ENV = {"RASA_TELEMETRY_ENABLED", "MPLCONFIGDIR", "TF_CPP_MIN_LOG_LEVEL",
                  "RASA_TOKEN", "JWT_SECRET"}  # fmt: skip
RASA_CHART_DB_ENV = {"DB_USER", "DB_HOST", "DB_PORT", "DB_DATABASE", "DB_PASSWORD"}
RASA_CHART_REDIS_ENV = {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD"}
RASA_CHART_RABBITMQ_ENV = {"RABBITMQ_USERNAME", "RABBITMQ_HOST", "RABBITMQ_QUEUE",
                           "RABBITMQ_PORT", "RABBITMQ_PASSWORD"}  # fmt: skip

# Variables the Dockerfile or values may set that Köprü's code does not mention: who reads
# them. Everything else must be named in bot/, channels/ or actions/.
PLATFORM_ENV = {
    "PATH": "the shell and Python (the venv's bin first)",
    "HOME": "Python and Rasa (~/.config/rasa)",
    "VIRTUAL_ENV": "tools that look for the active venv",
    "PYTHONDONTWRITEBYTECODE": "Python",
    "PYTHONUNBUFFERED": "Python",
    "PIP_NO_CACHE_DIR": "pip",
    "PIP_DISABLE_PIP_VERSION_CHECK": "pip",
    "MPLCONFIGDIR": "matplotlib (the web app's charts)",
}

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{2,}[A-Z0-9]$")
SECRET_LIKE = re.compile(r"TOKEN|SECRET|PASSWORD|DATABASE_URL|DB_URL")
K8S_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
RASA_ENV_REFERENCE = re.compile(r"\$\{([^}]+)\}")


# --- Reading the files -------------------------------------------------------------------


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))


@cache
def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _values(name: str) -> dict[str, Any]:
    data = _load(HELM / name)
    assert isinstance(data, dict)
    return data


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """Dotted key paths with their values and whether each is a leaf (a scalar, a list or
    an empty map); the maps on the way are given too."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield path, value, False
            yield from _flatten(value, path + ".")
        else:
            yield path, value, True


def _known(path: str, keys: frozenset[str]) -> bool:
    if path in keys:
        return True
    parts = path.split(".")
    return any(".".join(parts[:n]) + ".*" in keys for n in range(1, len(parts) + 1))


@dataclass(frozen=True)
class Install:
    release: str
    chart: Chart
    version: str
    values: tuple[Path, ...]


@cache
def _doc_commands() -> tuple[str, ...]:
    """The shell commands of docs/DEPLOY.md's code blocks, continuation lines joined."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return tuple(line.strip() for line in joined.splitlines() if line.strip())


@cache
def _installs() -> tuple[Install, ...]:
    installs = []
    for line in _doc_commands():
        if not line.startswith("helm install "):
            continue
        argv = shlex.split(line)
        release, reference = argv[2], argv[3]
        files = tuple(ROOT / argv[i + 1] for i, arg in enumerate(argv) if arg == "-f")
        version = argv[argv.index("--version") + 1] if "--version" in argv else ""
        installs.append(Install(release, CHARTS[reference], version, files))
    return tuple(installs)


def _install_of(values_name: str) -> Install:
    matches = [i for i in _installs() if HELM / values_name in i.values]
    assert len(matches) == 1, f"{values_name} is installed {len(matches)} times in the docs"
    return matches[0]


def _fullname(release: str, chart_name: str) -> str:
    """rasa-common's and Bitnami's fullname: the release name when it contains the chart
    name, else release-chart."""
    return release if chart_name in release else f"{release}-{chart_name}"


def _env(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    entries = values.get("extraEnv") or []
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"an env variable is set twice: {names}"
    return {entry["name"]: entry for entry in entries}


def _secret_ref(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
    return dict(ref) if ref else None


def _argv(values: Mapping[str, Any]) -> list[str]:
    return [str(part) for part in [*(values.get("command") or []), *(values.get("args") or [])]]


def _substituted(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """Kubernetes' $(VAR) expansion in command and args."""
    return [K8S_REFERENCE.sub(lambda m: env[m.group(1)], part) for part in argv]


def _parse_kopru(argv: list[str]) -> Any:
    assert argv[0] == "kopru", argv
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as exc:
        raise AssertionError(f"kopru does not accept {shlex.join(argv)}") from exc


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@cache
def _dockerfile() -> tuple[Instruction, ...]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines).replace("\\\n", " ")
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return tuple(instructions)


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in _dockerfile():
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def _exec_form(arguments: str) -> list[str]:
    parsed = json.loads(arguments)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def _dockerfile_commands() -> list[list[str]]:
    """Every simple command the Dockerfile runs: RUN segments, CMD, HEALTHCHECK CMD."""
    commands: list[list[str]] = []
    for instruction in _dockerfile():
        if instruction.keyword == "RUN":
            for segment in re.split(r"&&|\|\||;|\|", instruction.arguments):
                argv = shlex.split(segment.split(">")[0])
                if argv:
                    commands.append(argv)
        elif instruction.keyword in ("CMD", "ENTRYPOINT"):
            commands.append(_exec_form(instruction.arguments))
        elif instruction.keyword == "HEALTHCHECK":
            commands.append(_exec_form(instruction.arguments.split(" CMD ", 1)[1]))
    return commands


@cache
def _env_names_koepru_uses() -> frozenset[str]:
    """String constants shaped like environment variable names in Köprü's code."""
    names: set[str] = set()
    for package in ("bot", "channels", "actions"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and ENV_NAME.match(node.value)
                ):
                    names.add(node.value)
    return frozenset(names)


# --- The rasa chart's ConfigMap, as its template writes it --------------------------------


def _go_text(value: Any) -> str:
    """How `{{ $value }}` prints a value in a Helm template."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_go_text(item) for item in value) + "]"
    return str(value)


def _rendered_rasa_config(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """credentials.yml and endpoints.yml as charts/rasa/templates/config-map.yaml writes
    them (scalars printed unquoted, as the template does, then read as YAML)."""
    settings = values["applicationSettings"]
    assert not settings.get("rasaX", {}).get("useConfigEndpoint"), "config comes from values"
    credentials: dict[str, Any] = {}
    if settings["credentials"]["enabled"]:
        credentials = dict(settings["credentials"].get("additionalChannelCredentials") or {})
    endpoints = settings["endpoints"]
    lines: list[str] = []
    for section, name in (("trackerStore", "tracker_store"), ("lockStore", "lock_store"),
                          ("eventBroker", "event_broker")):  # fmt: skip
        config = endpoints.get(section) or {}
        if config.get("enabled"):
            lines.append(f"{name}:")
            lines += [f"  {key}: {_go_text(value)}" for key, value in sorted(config.items())
                      if key != "enabled"]  # fmt: skip
    action_chart = values.get("rasa-action-server") or {}
    if action_chart.get("install") or (
        (action_chart.get("external") or {}).get("enabled")
        and (action_chart.get("external") or {}).get("url")
    ):
        lines += ["action_endpoint:", "  url: ${ACTION_SERVER_URL}"]
    rendered: dict[str, Any] = yaml.safe_load("\n".join(lines)) or {}
    additional = endpoints.get("additionalEndpoints") or {}
    duplicated = set(rendered) & set(additional)
    assert not duplicated, f"written twice into endpoints.yml: {duplicated}"
    rendered.update(additional)
    return credentials, rendered


def _rasa_container_env(values: Mapping[str, Any]) -> set[str]:
    """The variables the Rasa container has: the chart's and extraEnv."""
    names = set(RASA_CHART_ENV) | set(_env(values))
    endpoints = values["applicationSettings"]["endpoints"]
    if endpoints["trackerStore"].get("enabled") and (
        values["postgresql"].get("install") or values["postgresql"]["external"].get("enabled")
    ):
        names |= RASA_CHART_DB_ENV
    if endpoints["lockStore"].get("enabled") and (
        values["redis"].get("install") or values["redis"]["external"].get("enabled")
    ):
        names |= RASA_CHART_REDIS_ENV
    if endpoints["eventBroker"].get("enabled") and (
        values["rabbitmq"].get("install") or values["rabbitmq"]["external"].get("enabled")
    ):
        names |= RASA_CHART_RABBITMQ_ENV
    return names


# --- The files exist and parse ------------------------------------------------------------


def test_deploy_has_the_files_the_docs_name() -> None:
    for name in ("values-rasa.yaml", "values-actions.yaml", "values-web.yaml",
                 "values-postgresql.yaml", "values-redis.yaml", "ingress.yaml"):  # fmt: skip
        assert (HELM / name).is_file(), name
    assert DOCKERFILE.is_file() and DOCKERIGNORE.is_file() and DEPLOY_DOC.is_file()


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_under_deploy_parses_into_a_mapping(path: Path) -> None:
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert documents and all(isinstance(doc, dict) and doc for doc in documents)


# --- The values against their charts ------------------------------------------------------


@pytest.mark.parametrize("path", sorted(HELM.glob("values-*.yaml")), ids=lambda p: p.name)
def test_values_use_only_keys_of_their_chart_with_the_schema_types(path: Path) -> None:
    install = _install_of(path.name)
    unknown = [key for key, _, leaf in _flatten(_values(path.name))
               if leaf and not _known(key, install.chart.keys)]  # fmt: skip
    assert unknown == [], f"keys that {install.chart.reference} does not have: {unknown}"
    for key, value, _ in _flatten(_values(path.name)):
        expected = install.chart.schema.get(key)
        if expected is not None:
            assert isinstance(value, expected) and not (
                expected is int and isinstance(value, bool)
            ), f"{path.name}: {key} is {value!r}, the chart's schema wants {expected}"


def test_the_docs_install_every_values_file_pinned_in_order() -> None:
    installs = _installs()
    installed = {file for install in installs for file in install.values}
    assert installed == set(HELM.glob("values-*.yaml"))
    for install in installs:
        assert install.version, f"{install.release} is installed without --version"
        for file in install.values:
            assert file.is_file()
    order = [install.release for install in installs]
    # Databases, then the action server (it creates Köprü's tables), then Rasa, then web.
    assert order.index("kopru-postgresql") < order.index("kopru-actions")
    assert order.index("kopru-redis") < order.index("kopru-rasa")
    assert order.index("kopru-actions") < order.index("kopru-rasa") < order.index("kopru-web")
    assert any(line.startswith("kubectl apply -f deploy/helm/ingress.yaml")
               for line in _doc_commands())  # fmt: skip


def test_chart_versions_in_the_values_headers_match_the_docs() -> None:
    for install in _installs():
        for file in install.values:
            header = file.read_text(encoding="utf-8").split("\n\n", 1)[0]
            assert install.chart.reference in header or install.chart.name in header
            if install.version[0].isdigit():
                assert f"--version {install.version}" in header, file.name


def test_koepru_releases_run_the_koepru_image() -> None:
    images = set()
    for name in ("values-rasa.yaml", "values-actions.yaml", "values-web.yaml",
                 "values-demo-backend.yaml"):  # fmt: skip
        values = _values(name)
        images.add((values["registry"], values["image"]["name"], values["image"]["tag"]))
    assert len(images) == 1, f"one image for every Köprü process, got {images}"


# --- Commands -----------------------------------------------------------------------------


def test_every_kopru_command_in_the_values_is_accepted_by_the_cli() -> None:
    seen = set()
    for path in sorted(HELM.glob("values-*.yaml")):
        argv = _argv(_values(path.name))
        if argv and argv[0] == "kopru":
            seen.add(_parse_kopru(argv).command)
    assert seen == {"actions", "web", "demo-backend"}


def test_every_kopru_command_in_the_dockerfile_is_accepted_by_the_cli() -> None:
    seen = {_parse_kopru(argv).command for argv in _dockerfile_commands() if argv[0] == "kopru"}
    assert seen == {"train", "run"}


def test_the_rasa_server_always_runs_its_api_behind_a_token_from_the_secret() -> None:
    from rasa.__main__ import create_argument_parser

    values = _values("values-rasa.yaml")
    argv = _argv(values)
    # The chart's default arguments would take the token from values and a JWT secret
    # that defaults to the text "UNSET": Köprü's arguments replace them.
    assert values.get("args"), "the chart's default arguments must be replaced"
    assert argv[:3] == ["python", "-m", "bot.serving.rasa_server"]
    assert importlib.util.find_spec("bot.serving.rasa_server") is not None
    env = _env(values)
    referenced = set(K8S_REFERENCE.findall(" ".join(argv)))
    for name in referenced:
        ref = _secret_ref(env[name])
        assert ref is not None and ref["name"] == SECRET_NAME and not ref.get("optional")
    fake = {name: f"value-of-{name}" for name in referenced}
    parsed = create_argument_parser().parse_args(_substituted(argv, fake)[3:])
    assert parsed.enable_api is True
    assert parsed.auth_token == fake["KOPRU_API_TOKEN"] or parsed.jwt_secret in fake.values()
    assert parsed.port == values["applicationSettings"]["port"] == values["service"]["port"]
    assert parsed.model == "/app/models"  # baked into the image by `kopru train`
    # The chart mounts its ConfigMap there.
    assert (parsed.endpoints, parsed.credentials) == ("/app/endpoints.yml",
                                                      "/app/credentials.yml")  # fmt: skip
    assert not values["applicationSettings"]["initialModel"]
    assert not values["applicationSettings"]["trainInitialModel"]


def test_the_dockerfile_runs_no_rasa_server_without_a_token() -> None:
    for argv in _dockerfile_commands():
        if "rasa" in argv[:3] or "bot.serving.rasa_server" in argv[:3]:
            joined = " ".join(argv)
            assert "--enable-api" in joined
            assert "--auth-token" in joined or "--jwt-secret" in joined
    # `kopru run` (the default command) starts Rasa through bot.serving.rasa_server with the API on
    # and the token, generated when none is set, in its environment.
    from bot.serving.rasa_server import TOKEN_ENV, with_token
    from bot.serving.runner import rasa_argv, rasa_env

    argv = rasa_argv("python", model=Path("m"), host="0.0.0.0", port=5005,
                     endpoints=Path("e"), credentials=Path("c"))  # fmt: skip
    assert argv[2] == "bot.serving.rasa_server" and "--enable-api" in argv
    token = rasa_env({}, "t0ken")[TOKEN_ENV]
    assert "--auth-token=t0ken" in with_token(argv[3:], token)


# --- The action server and its secret ------------------------------------------------------


def _action_server_components() -> list[tuple[str, list[str], dict[str, Any]]]:
    found = []
    for path in sorted(HELM.glob("values-*.yaml")):
        values = _values(path.name)
        argv = _argv(values)
        if argv[:2] == ["kopru", "actions"]:
            found.append((path.name, argv, _env(values)))
    dockerfile_env = {name: {"name": name, "value": value}
                      for name, value in _dockerfile_env().items()}  # fmt: skip
    for argv in _dockerfile_commands():
        if argv[:2] == ["kopru", "actions"]:
            found.append(("Dockerfile", argv, dockerfile_env))
    return found


def test_the_action_server_listens_beyond_loopback_only_with_the_shared_secret() -> None:
    components = _action_server_components()
    assert [name for name, _, _ in components] == ["values-actions.yaml"]
    for name, argv, env in components:
        args = _parse_kopru(argv)
        host = args.host or (env.get("KOPRU_ACTION_HOST") or {}).get("value") or "127.0.0.1"
        if not is_loopback(host):
            ref = _secret_ref(env.get(SECRET_ENV) or {})
            assert ref is not None, f"{name}: the action server on {host} without {SECRET_ENV}"
            assert ref["name"] == SECRET_NAME and not ref.get("optional")


def test_rasa_sends_the_action_secret_the_action_server_checks() -> None:
    rasa, actions = _values("values-rasa.yaml"), _values("values-actions.yaml")
    _, endpoints = _rendered_rasa_config(rasa)
    headers = endpoints["action_endpoint"]["headers"]
    assert headers == {SECRET_HEADER: "${" + SECRET_ENV + "}"}
    assert _secret_ref(_env(rasa)[SECRET_ENV]) == _secret_ref(_env(actions)[SECRET_ENV])
    # ... at the action server's Service (chart rasa-action-server: port 80 -> http).
    service = _fullname(_install_of("values-actions.yaml").release, "rasa-action-server")
    port = actions["service"]["port"]
    expected = f"http://{service}/webhook" if port == 80 else f"http://{service}:{port}/webhook"
    assert endpoints["action_endpoint"]["url"] == expected
    assert _parse_kopru(_argv(actions)).port == actions["applicationSettings"]["port"]


# --- What Rasa reads ------------------------------------------------------------------------


def test_rasa_reads_the_rendered_endpoints_with_every_variable_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.core.utils import AvailableEndpoints

    values = _values("values-rasa.yaml")
    _, endpoints = _rendered_rasa_config(values)
    text = yaml.safe_dump(endpoints, sort_keys=False)
    available = _rasa_container_env(values)
    missing = set(RASA_ENV_REFERENCE.findall(text)) - available
    assert missing == set(), f"endpoints use variables nobody sets: {missing}"
    for name in available:
        monkeypatch.setenv(name, f"v-{name.lower()}")
    monkeypatch.setenv("DB_PORT", "5432")
    monkeypatch.setenv("REDIS_PORT", "6379")
    path = tmp_path / "endpoints.yml"
    path.write_text(text, encoding="utf-8")
    read = AvailableEndpoints.read_endpoints(str(path))
    assert read.action is not None and read.action.headers == {
        SECRET_HEADER: f"v-{SECRET_ENV.lower()}"
    }
    assert read.tracker_store is not None and read.lock_store is not None
    assert read.tracker_store.kwargs["dialect"] == "postgresql"
    assert read.tracker_store.url == "v-db_host"
    assert read.lock_store.type == "redis" and read.lock_store.url == "v-redis_host"
    assert read.event_broker is None  # optional, off unless enabled (docs/DEPLOY.md)


def test_the_tracker_store_is_sql_on_postgresql_like_endpoints_yml() -> None:
    from rasa.core.tracker_store import SQLTrackerStore

    _, endpoints = _rendered_rasa_config(_values("values-rasa.yaml"))
    store = endpoints["tracker_store"]
    assert store["dialect"] == "postgresql"
    kind = str(store["type"])
    project = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert kind.lower() == str(project["tracker_store"]["type"]).lower()
    if "." in kind:
        # Rasa would fall back to an in-memory store, with a mere warning, for a class it
        # cannot import.
        module_name, _, class_name = kind.rpartition(".")
        cls = getattr(importlib.import_module(module_name), class_name)
        assert issubclass(cls, SQLTrackerStore)
    else:
        assert kind.lower() == "sql"
    assert endpoints["lock_store"]["type"] == "redis"


def test_the_channels_are_those_of_credentials_yml_and_import() -> None:
    credentials, _ = _rendered_rasa_config(_values("values-rasa.yaml"))
    project = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert set(credentials) == set(project)
    expected = {"channels.telegram.TelegramInput", "channels.slack.SlackDeskInput",
                "channels.webchat.WebChatInput"}  # fmt: skip
    assert expected <= set(credentials)
    for path in credentials:
        if "." not in path:
            from rasa.core.channels import BUILTIN_CHANNELS

            assert path in BUILTIN_CHANNELS
            continue
        # As Rasa loads them (class_from_module_path). channels.slack brings TensorFlow in
        # through Rasa: seconds when this file runs alone, nothing within the whole suite.
        module_name, _, class_name = path.rpartition(".")
        module: ModuleType = importlib.import_module(module_name)
        assert isinstance(getattr(module, class_name, None), type), path


def test_the_stores_are_the_releases_the_docs_install() -> None:
    values = _values("values-rasa.yaml")
    postgresql = _install_of("values-postgresql.yaml")
    redis = _install_of("values-redis.yaml")
    assert values["postgresql"]["install"] is False and values["redis"]["install"] is False
    assert values["postgresql"]["external"]["host"] == _fullname(postgresql.release, "postgresql")
    assert values["redis"]["external"]["host"] == _fullname(redis.release, "redis") + "-master"
    # One database for Rasa's `events` and Köprü's `kopru_*` tables, one user.
    pg = _values("values-postgresql.yaml")
    assert values["global"]["postgresql"]["postgresqlDatabase"] == pg["auth"]["database"]
    assert values["global"]["postgresql"]["postgresqlUsername"] == pg["auth"]["username"]
    assert values["global"]["postgresql"]["existingSecret"] == pg["auth"]["existingSecret"]
    assert values["postgresql"]["existingSecretKey"] == pg["auth"]["secretKeys"]["userPasswordKey"]
    rd = _values("values-redis.yaml")
    assert values["redis"]["existingSecret"] == rd["auth"]["existingSecret"]
    assert values["redis"]["existingSecretPasswordKey"] == rd["auth"]["existingSecretPasswordKey"]
    assert values["replicaCount"] >= 2


# --- Environment and secrets ------------------------------------------------------------


def _all_env_settings() -> list[tuple[str, str, dict[str, Any]]]:
    settings = []
    for path in sorted(HELM.glob("values-*.yaml")):
        for name, entry in _env(_values(path.name)).items():
            settings.append((path.name, name, entry))
    for name, value in _dockerfile_env().items():
        settings.append(("Dockerfile", name, {"name": name, "value": value}))
    return settings


def test_every_variable_set_is_one_that_is_read() -> None:
    known = _env_names_koepru_uses()
    unread = [(where, name) for where, name, _ in _all_env_settings()
              if name not in known and name not in PLATFORM_ENV]  # fmt: skip
    assert unread == []


def test_the_code_scan_finds_the_variables_it_should() -> None:
    known = _env_names_koepru_uses()
    assert {"KOPRU_DATABASE_URL", "KOPRU_ACTION_SECRET", "TELEGRAM_TOKEN", "SLACK_BOT_TOKEN",
            "KOPRU_ORDERS_TIMEOUT", "KOPRU_QUEUE_SWEEP_SECONDS"} <= known  # fmt: skip
    assert "KOPRU_NO_SUCH_SETTING" not in known


def test_secrets_come_only_from_the_secret_and_the_docs_create_every_key() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    created = set(re.findall(r"--from-literal=([a-z0-9-]+)=", doc))
    patched = set(re.findall(r'"([a-z0-9-]+)": "', doc))
    needed_always: set[str] = set()
    for where, name, entry in _all_env_settings():
        ref = _secret_ref(entry)
        if SECRET_LIKE.search(name):
            assert ref is not None, f"{where}: {name} must come from a Secret, not a value"
        if ref is None:
            continue
        assert ref["name"] == SECRET_NAME, f"{where}: {name}"
        if ref.get("optional"):
            assert ref["key"] in created | patched, f"{where}: {ref['key']} is never created"
        else:
            needed_always.add(ref["key"])
    pg, rd = _values("values-postgresql.yaml"), _values("values-redis.yaml")
    needed_always |= set(pg["auth"]["secretKeys"].values())
    needed_always.add(rd["auth"]["existingSecretPasswordKey"])
    assert needed_always <= created, f"not created by the docs: {needed_always - created}"
    # The database URL the docs build reaches the PostgreSQL release with its user and db.
    url = re.search(r"database-url=\"(postgresql://[^\"]+)\"", doc)
    assert url is not None
    service = _fullname(_install_of("values-postgresql.yaml").release, "postgresql")
    assert url.group(1) == (f"postgresql://{pg['auth']['username']}:$DB_PASSWORD@{service}"
                            f":5432/{pg['auth']['database']}")  # fmt: skip


def test_no_secret_value_is_written_in_the_values() -> None:
    for path in sorted(HELM.glob("values-*.yaml")):
        for key, value, _ in _flatten(_values(path.name)):
            leaf = key.rsplit(".", 1)[-1].lower()
            if leaf in ("password", "token", "postgrespassword") and isinstance(value, str):
                assert value.startswith("${") or value == "", f"{path.name}: {key}"


def test_the_web_app_is_not_given_the_rasa_api_token() -> None:
    env = _env(_values("values-web.yaml"))
    # The Train page would switch one replica's model with a file only the web pod has.
    assert "KOPRU_API_TOKEN" not in env and "KOPRU_RASA_URL" not in env
    assert _secret_ref(env["KOPRU_ADMIN_TOKEN"]) is not None
    assert _secret_ref(env["KOPRU_WEB_SECRET"]) is not None
    assert env["KOPRU_WEB_SECURE_COOKIES"]["value"] == "true"
    assert env["KOPRU_WEB_PROXIES_COUNT"]["value"] == "1"  # the ingress


# --- Ingress ------------------------------------------------------------------------------


def test_the_ingress_sends_webhooks_to_rasa_and_the_rest_to_the_web_app() -> None:
    ingress = _load(HELM / "ingress.yaml")
    assert ingress["apiVersion"] == "networking.k8s.io/v1" and ingress["kind"] == "Ingress"
    routes = {
        path["path"]: (path["backend"]["service"]["name"],
                       path["backend"]["service"]["port"]["number"], path["pathType"])
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }  # fmt: skip
    rasa, web = _values("values-rasa.yaml"), _values("values-web.yaml")
    rasa_service = _fullname(_install_of("values-rasa.yaml").release, "rasa")
    web_service = _fullname(_install_of("values-web.yaml").release, "rasa-action-server")
    assert routes == {
        "/webhooks/": (rasa_service, rasa["service"]["port"], "Prefix"),
        "/": (web_service, web["service"]["port"], "Prefix"),
    }
    # Rasa's HTTP API is not published, and no chart publishes anything besides.
    for name in ("values-rasa.yaml", "values-actions.yaml", "values-web.yaml"):
        assert _values(name)["ingress"]["enabled"] is False
    assert rasa["nginx"]["enabled"] is False
    webhook_url = _env(rasa)["TELEGRAM_WEBHOOK_URL"]["value"]
    host = ingress["spec"]["rules"][0]["host"]
    assert webhook_url == f"https://{host}/webhooks/telegram/webhook"


# --- Dockerfile ---------------------------------------------------------------------------


def test_the_dockerfile_builds_a_non_root_python_3_10_image() -> None:
    instructions = _dockerfile()
    keywords = [i.keyword for i in instructions]
    assert instructions[0] == Instruction("FROM", "python:3.10-slim")
    user = [i.arguments for i in instructions if i.keyword == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert "HEALTHCHECK" in keywords and keywords.index("USER") < keywords.index("CMD")
    runs = [i.arguments for i in instructions if i.keyword == "RUN"]
    train = next(n for n, run in enumerate(runs) if "kopru train" in run)
    copy_all = keywords.index("COPY") + [i.arguments for i in instructions
                                         if i.keyword == "COPY"].index(". .")  # fmt: skip
    assert copy_all < [n for n, i in enumerate(instructions) if i.keyword == "RUN"][train]
    # Installed like scripts/setup.sh: pinned by the lock, editable (PROJECT_ROOT is /app).
    assert any("-c requirements.lock" in run for run in runs)
    assert any("install --no-deps -e ." in run for run in runs)
    assert "-c requirements.lock" in (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert ["WORKDIR", "/app"] in [[i.keyword, i.arguments] for i in instructions]


def test_the_dockerfile_copies_files_that_exist() -> None:
    for instruction in _dockerfile():
        if instruction.keyword == "COPY":
            *sources, _ = shlex.split(instruction.arguments)
            for source in sources:
                assert (ROOT / source).exists(), source


def test_the_dockerfile_installs_exactly_the_dependencies_of_pyproject() -> None:
    run = next(i.arguments for i in _dockerfile() if i.keyword == "RUN" and "sed -n" in i.arguments)
    match = re.search(r"sed -n '/\^dependencies = \\\[/,/\^\\\]/p' pyproject.toml", run)
    assert match, "the dependency list comes from pyproject.toml's dependencies"
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # sed's range, then grep -o '"[^"]*"' | tr -d '"', in Python:
    lines = text.splitlines()
    start = lines.index("dependencies = [")
    end = next(n for n in range(start, len(lines)) if lines[n].startswith("]"))
    extracted = re.findall(r'"([^"]*)"', "\n".join(lines[start : end + 1]))
    assert extracted == tomli.loads(text)["project"]["dependencies"]


def test_the_build_context_keeps_everything_the_image_needs() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]  # fmt: skip
    assert patterns[0] == "*", "an allowlist"
    kept = [p[1:].rstrip("/") for p in patterns if p.startswith("!")]

    def included(relative: str) -> bool:
        return any(relative == k or relative.startswith(k + "/") for k in kept)

    project = tomli.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", "requirements.lock", "kopru.yml", "endpoints.yml",
              "credentials.yml", project["project"]["readme"],
              "deploy/docker/healthcheck.py"}  # fmt: skip
    found = project["tool"]["setuptools"]["packages"]["find"]["include"]
    needed |= {pattern.rstrip("*") for pattern in found}
    needed |= {str(path.relative_to(ROOT)) for path in _training_files(ROOT)}
    missing = sorted(path for path in needed if not included(path))
    assert missing == []
    assert not included(".venv") and not included("models") and not included("var")


def test_the_healthcheck_probes_each_process() -> None:
    instruction = next(i for i in _dockerfile() if i.keyword == "HEALTHCHECK")
    argv = _exec_form(instruction.arguments.split(" CMD ", 1)[1])
    assert argv[:2] == ["python", "/app/deploy/docker/healthcheck.py"]
    assert (ROOT / "deploy" / "docker" / "healthcheck.py").is_file()
    ports = {int(re.search(r":(\d+)/", url).group(1)) for url in argv[2:]}  # type: ignore[union-attr]
    assert ports == {5005, 5055, 5057}


def _healthcheck_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kopru_healthcheck", ROOT / "deploy" / "docker" / "healthcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_healthcheck_script_passes_when_one_process_answers() -> None:
    healthcheck = _healthcheck_module()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        dead = f"http://127.0.0.1:{_closed_port()}/"
        assert healthcheck.main([dead, f"http://127.0.0.1:{port}/health"]) == 0
        assert healthcheck.main([dead, f"http://127.0.0.1:{port}/other"]) == 1
        assert healthcheck.main([dead]) == 1
        assert healthcheck.main([]) == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
