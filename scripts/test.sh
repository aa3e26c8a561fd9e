#!/usr/bin/env bash
# The whole test suite: lint and types, the model, accuracy report, then pytest
# (unit, integration, Rasa data validation and conversation tests, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export RASA_TELEMETRY_ENABLED=false TF_CPP_MIN_LOG_LEVEL=2 SQLALCHEMY_SILENCE_UBER_WARNING=1

echo "== browser for the admin app's browser tests (Debian's Chromium; no browser download)"
if ! command -v chromium >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    fi
fi
chromium --version

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
