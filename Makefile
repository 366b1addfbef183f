# onair — the two commands.
#   make demo   build and run the whole pipeline, print where to watch
#   make test   install what tests need, then run every test
# and `make fuzz`: every fuzz target for FUZZ_SECONDS (60) each (fuzz/README.md).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test build lint unit e2e bench fuzz clean

demo:
	scripts/setup.sh runtime
	$(CARGO) build --release -p onair
	./target/release/onair demo

build:
	$(CARGO) build -p onair

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

# Two pytest-xdist workers: most e2e time is waiting on real-time media, and
# each worker takes its ports from a band of its own (tests/e2e/conftest.py).
E2E_JOBS ?= 2
e2e: build
	.venv/bin/python -m pytest -q -rxf --durations=15 -n $(E2E_JOBS) --dist loadgroup tests/e2e

test:
	scripts/setup.sh test
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) e2e

bench:
	scripts/setup.sh bench
	$(CARGO) build --release -p onair
	.venv/bin/python bench/transport.py --duration 15 --onair-batching auto,5ms
	.venv/bin/python bench/transcode.py
	.venv/bin/python bench/origin.py

FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

clean:
	$(CARGO) clean
