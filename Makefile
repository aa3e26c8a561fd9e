# The two commands of the README: `make run` and `make test`.
.PHONY: setup run run-scaled train shell test test-fast lint accuracy bench bench-quick bench-timings reliability clean

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/kopru run

# The scaled mode on this machine: PostgreSQL, Redis, REPLICAS Rasa servers behind nginx
# (see README, "Scaling"; KOPRU_DATABASE_URL, KOPRU_REDIS_URL, KOPRU_RABBITMQ_URL).
REPLICAS ?= 2
run-scaled: setup
	.venv/bin/kopru run --scaled --replicas $(REPLICAS)

train: setup
	.venv/bin/kopru train

shell: setup
	.venv/bin/kopru shell

lint: setup
	.venv/bin/ruff check bot channels actions tests scripts bench
	.venv/bin/ruff format --check bot channels actions tests scripts bench
	.venv/bin/mypy
	.venv/bin/lint-imports

accuracy: setup
	.venv/bin/python scripts/intent_accuracy.py

test: setup
	@scripts/test.sh

# The inner loop (a few minutes): lint, types, layer contracts, unit and integration tests.
# CI runs `make test` (everything, end to end included).
test-fast: setup
	@scripts/test.sh --fast

# The benchmark harness of BENCHMARKS.md: NLU accuracy and speed on public data sets
# (../shared/benchmarks) and serving speed, Köprü beside Rasa's defaults in the same run.
# bench-quick caps DIET at 5 epochs (about 45 minutes in all on 2 cores); bench runs
# Rasa's default 100 epochs (hours).
bench: setup
	.venv/bin/python -m bench

bench-quick: setup
	.venv/bin/python -m bench --quick

# The wall-clock budgets kept out of the unit tests (masking, demo data, claims; seconds).
bench-timings: setup
	.venv/bin/python -m bench.timings

# The load and fault harness of docs/RELIABILITY.md (about 40 minutes on 2 cores): the
# scaled mode under 200 conversations with 1 and 2 replicas, a killed replica and a
# PostgreSQL restart; then the short fault, bad-input and access tests.
reliability: setup
	scripts/services.sh
	.venv/bin/python -m bench.load --kill-replica --restart-postgres --json var/reliability.json
	.venv/bin/python -m pytest -p no:cacheprovider -q tests/e2e/test_scaled.py \
		tests/e2e/test_bad_input.py tests/e2e/test_action_server_down.py tests/e2e/test_access.py

clean:
	rm -rf models var results .rasa .pytest_cache .mypy_cache .ruff_cache
