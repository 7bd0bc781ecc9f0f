# Local stack and checks. The work is done by scripts/stack.sh; see
# `scripts/stack.sh help` for the settings (KAFKA_BROKERS, DATABASE_URL, ...).
STACK := bash scripts/stack.sh

.DEFAULT_GOAL := help
.PHONY: help up down demo test lint build logs status clean-state bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

up: ## deps, tansu, PostgreSQL, databases, broker, build, start projector, enricher, risk, router, ingress
	@$(STACK) up

down: ## stop the services and the broker (PostgreSQL is left alone)
	@$(STACK) down

demo: ## make up, then orders-loadgen --orders 1000 --rate 25 (DEMO_ORDERS, DEMO_RATE, DEMO_WAIT_SECS)
	@$(STACK) demo

test: ## broker + databases, then fmt check, clippy -D warnings, cargo test
	@$(STACK) test

lint: ## cargo fmt --check and clippy -D warnings
	@$(STACK) lint

build: ## release build of the services and orders-loadgen
	@$(STACK) build

logs: ## tail the service logs
	@$(STACK) logs

status: ## which of our processes run
	@$(STACK) status

clean-state: ## make down, stop a private PostgreSQL, remove .local/
	@$(STACK) clean-state

bench: ## benchmark at 100, 500, 1000 orders/s (BENCH_RATES, BENCH_SECS) on a separate broker; see docs/performance.md
	@bash scripts/bench.sh
