#!/usr/bin/env bash
# The whole test suite: lint, types and layer contracts, the model, accuracy report, the
# services, then pytest (unit, integration, Rasa data validation and conversation tests,
# end to end). `scripts/test.sh --fast` (make test-fast): lint, types and layer contracts,
# then the unit and integration tests only, for the inner loop (a few minutes).
# Further arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
fast=false
if [[ ${1:-} == --fast ]]; then
    fast=true
    shift
fi
scripts/setup.sh
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1

lint() {
    echo "== ruff, mypy and the layer contracts"
    .venv/bin/ruff check bot channels actions tests scripts bench
    .venv/bin/ruff format --check bot channels actions tests scripts bench
    .venv/bin/mypy
    .venv/bin/lint-imports
}

if $fast; then
    lint
    echo "== services: PostgreSQL, Redis, RabbitMQ"
    scripts/services.sh
    echo "== pytest: unit and integration"
    .venv/bin/python -m pytest -p no:cacheprovider tests/unit tests/integration "$@"
    exit
fi

# Debian packages the end-to-end tests drive: Chromium for the admin app's browser
# tests (no browser download) and nginx in front of the replicas of the scaled mode.
apt_install() {
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
        || { $sudo apt-get update -q >/dev/null \
             && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}
echo "== Debian packages for the end-to-end tests: chromium, nginx"
command -v chromium >/dev/null 2>&1 || apt_install chromium
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || apt_install nginx-light
chromium --version
/usr/sbin/nginx -v

lint

echo "== model (trained only when the data changed)"
.venv/bin/kopru train

echo "== cross-validated intent accuracy per language"
.venv/bin/python scripts/intent_accuracy.py --folds "${KOPRU_CV_FOLDS:-5}"

echo "== services: PostgreSQL, Redis, RabbitMQ"
scripts/services.sh

echo "== pytest"
# pytest's exit code 5 (nothing collected) must fail the run, and does: set -e.
.venv/bin/python -m pytest -p no:cacheprovider "$@"
