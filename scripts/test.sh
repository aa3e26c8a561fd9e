#!/usr/bin/env bash
# The whole test suite: lint and types, the model, accuracy report, then pytest
# (unit, integration, Rasa data validation and conversation tests, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1

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

echo "== ruff and mypy"
.venv/bin/ruff check bot channels actions tests scripts bench
.venv/bin/ruff format --check bot channels actions tests scripts bench
.venv/bin/mypy

echo "== model (trained only when the data changed)"
.venv/bin/kopru train

echo "== cross-validated intent accuracy per language"
.venv/bin/python scripts/intent_accuracy.py --folds "${KOPRU_CV_FOLDS:-5}"

echo "== pytest"
# pytest's exit code 5 (nothing collected) must fail the run, and does: set -e.
.venv/bin/python -m pytest -p no:cacheprovider "$@"
