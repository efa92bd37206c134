# The two commands of the README: `make serve` and `make test`.
.PHONY: setup serve test lint bench

setup:
	@./scripts/setup.sh

serve: setup
	.venv/bin/voicemode serve --dev --http-port 8766 $(ARGS)

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy .

test: lint
	.venv/bin/pytest -q $(ARGS)

bench: setup
	.venv/bin/python bench/run_all.py
