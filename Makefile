# The two commands of the README: `make run` and `make test`.
.PHONY: setup run train shell test lint accuracy clean

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/kopru run

train: setup
	.venv/bin/kopru train

shell: setup
	.venv/bin/kopru shell

lint: setup
	.venv/bin/ruff check bot channels actions tests scripts bench
	.venv/bin/ruff format --check bot channels actions tests scripts bench
	.venv/bin/mypy

accuracy: setup
	.venv/bin/python scripts/intent_accuracy.py

test: setup
	@scripts/test.sh

clean:
	rm -rf models var results .pytest_cache .mypy_cache .ruff_cache
