# The two commands of the README: `make serve` and `make test`; `make spec` runs the
# specification tests alone (no server, a few seconds).
.PHONY: setup serve test spec lint bench

setup:
	@./scripts/setup.sh

# Ports as make variables, so `make serve HTTP_PORT=9001` replaces them rather than
# passing --http-port twice.
PORT ?= 8765
HTTP_PORT ?= 8766

serve: setup
	.venv/bin/voicemode serve --dev --port $(PORT) --http-port $(HTTP_PORT) $(ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

test: lint
	cd web && npm test --silent
	.venv/bin/pytest -q $(ARGS)

spec: setup
	.venv/bin/pytest -q tests/spec $(ARGS)

bench: setup
	.venv/bin/python bench/run_all.py
