# Two commands (README, first section):
#   make run    a fresh clone -> the default job: venv, install, the seeds replayed on Beam's local runner
#   make test   every set-up the tests need (venv, install, services), then the whole suite
# Both can be run again: the venv is reused until pyproject.toml changes, and every `services` step
# reuses what is already running or built.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
# The install stamp: newer than pyproject.toml means the venv has the project's current dependencies.
INSTALLED := $(VENV)/.installed

.PHONY: run test install services

run: install
	. $(VENV)/bin/activate && news-ingest replay seeds --out out.jsonl
	@echo "make run: records in $(CURDIR)/out.jsonl, dead letters in $(CURDIR)/out.dlq.jsonl"

test: install services
	. $(VENV)/bin/activate && python -m pytest

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	. $(VENV)/bin/activate && python -m pip install --upgrade pip && pip install -e '.[test]'
	touch $@

# What the tests marked `kafka` and `portable` need, one line per service; each script is idempotent
# (a running broker is reused, a built runner is not rebuilt). Stopping the broker is the caller's
# business (.ci/run stops it on exit), so a developer's broker survives `make test`.
services:
	bash deploy/kafka/local-kafka.sh start
	bash deploy/prism/build-prism.sh
