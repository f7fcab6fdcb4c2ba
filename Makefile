# pinpipe: the two commands a newcomer needs are `make demo` and `make test`.
# Downloads and builds are cached under $(PINPIPE_CACHE_DIR), outside the checkout.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export PINPIPE_CACHE_DIR ?= $(HOME)/.cache/pinpipe
# One Node.js for every target: .nvmrc's version, installed into the cache when the machine's node
# is another one (scripts/node-runtime.sh), and first on PATH for every recipe and script below.
# Resolved once: a recursive make inherits PINPIPE_NODE_DIR and the PATH.
ifndef PINPIPE_NODE_DIR
PINPIPE_NODE_DIR := $(shell scripts/node-runtime.sh)
ifeq ($(PINPIPE_NODE_DIR),)
$(error no Node.js $(shell cat .nvmrc) to run on; see the message above)
endif
export PINPIPE_NODE_DIR
export PATH := $(PINPIPE_NODE_DIR):$(PATH)
endif
PY_VENV := $(PINPIPE_CACHE_DIR)/venv-dev
STACK := stack/stack.sh
PINPIPE := node dist/jobs/cli.js
# Connection settings of the local stack, for everything that talks to it.
WITH_STACK_ENV = eval "$$($(STACK) env)" &&
# Test suites that live beside the TypeScript ones (DAGs, chart, images) add their target here
# from their own mk/*.mk file; `make test` runs them after the vitest suites.
EXTRA_TESTS :=

.PHONY: help install node-deps py-deps build lint typecheck test test-unit test-integration up status down clean demo sql bench bench-runtimes distclean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: node-deps py-deps ## Install Node and Python dependencies and the local services
	$(STACK) install

node-deps: node_modules/.installed
# `npm ci`: exactly the lockfile, which lists every platform's optional package (DuckDB's engine,
# rollup's build) so that npm picks this machine's. Reinstalled when the lockfile or the runtime
# changes.
node_modules/.installed: package.json package-lock.json .nvmrc
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

py-deps: $(PY_VENV)/.installed
$(PY_VENV)/.installed: requirements-dev.txt
	python3 -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

build: node-deps ## Compile the TypeScript jobs into dist/
	npx tsc -p tsconfig.build.json

lint: node-deps py-deps ## ESLint for TypeScript, ruff for Python
	npx eslint --max-warnings 0 .
	$(PY_VENV)/bin/ruff check .
	$(PY_VENV)/bin/ruff format --check .

typecheck: node-deps ## tsc --noEmit over sources and tests
	npx tsc -p tsconfig.json --noEmit

test-unit: node-deps ## Unit tests only (no services needed)
	npx vitest run --project unit

test-integration: install up ## Integration tests against the real local services
	$(WITH_STACK_ENV) npx vitest run --project integration --no-file-parallelism

test: install lint typecheck up ## Lint, typecheck and every test, starting the services they need
	npx vitest run --project unit
	$(WITH_STACK_ENV) npx vitest run --project integration --no-file-parallelism
	@for suite in $(EXTRA_TESTS); do $(MAKE) --no-print-directory $$suite; done

up: ## Start Kafka, MinIO, Cassandra, PostgreSQL, Prometheus, the Pushgateway, Alertmanager with its alert log, and Trino on 127.0.0.1 (installs them first)
	$(STACK) up

status: ## Say which local services are up, down or died
	$(STACK) status

down: ## Stop the local services (and the local Kubernetes cluster, if it runs)
	stack/k8s.sh down
	$(STACK) down

clean: ## Stop the local services and delete their data (downloads stay cached)
	stack/k8s.sh clean
	$(STACK) clean
	rm -rf dist out

distclean: clean ## Also delete node_modules and the download cache
	rm -rf node_modules $(PINPIPE_CACHE_DIR)

demo: install up build ## Start everything and run the pipeline end to end on sample data
	$(WITH_STACK_ENV) bash scripts/demo.sh

sql: install up build ## A Trino SQL prompt over the lake, Cassandra and the stream windows (declares the lake's tables first)
	$(WITH_STACK_ENV) $(PINPIPE) lake-tables --log-level warn
	$(STACK) sql

bench: install up build ## Measure throughput, latency and memory against the real services (bench/RESULTS.md)
	$(WITH_STACK_ENV) bash bench/run.sh

bench-runtimes: install up build ## The Node.js benchmarks on Node.js 20 and on .nvmrc's version, side by side (bench/RESULTS.md)
	$(WITH_STACK_ENV) bash bench/runtimes.sh

# Targets of the DAGs, images, chart and monitoring, each in its own file.
-include mk/*.mk
