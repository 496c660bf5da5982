# Bronwijzer: `make demo` sets up and opens the chat; `make test` runs the suite.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INDEX ?= index
HOST ?= 127.0.0.1
PORT ?= 7860

# Offline by design: models come from installed packages, never from a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install demo ingest serve test test-fast lint bench soak eval clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned in the same step as sentence-transformers: otherwise pip pulls CUDA wheels
	$(BIN)/pip install -q -c constraints.txt "torch==2.13.0" -e ".[test]"
	touch $@

install: $(BIN)/.installed

ingest: install
	$(BIN)/bronwijzer ingest corpus --index $(INDEX)

demo: ingest
	$(BIN)/bronwijzer serve --index $(INDEX) --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/bronwijzer serve --index $(INDEX) --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

# one worker per core, a test file per worker: servers, browsers and subprocesses wait a lot
test: install lint
	$(BIN)/python -m pytest -n auto --dist loadfile

# the edit loop: everything but the shared-corpus index, servers and the browser
test-fast: install lint
	$(BIN)/python -m pytest -n auto --dist loadfile -m "not slow and not browser"

eval: install
	$(BIN)/bronwijzer ingest corpus --index $(INDEX)
	$(BIN)/bronwijzer eval run evals/datasets/sample.jsonl --index $(INDEX) --out evals/out/sample

bench: install
	$(BIN)/python -m bench

# long hardening run: 20 SIGKILL trials, 50 chat sessions for 60 s (figures in test-artifacts/)
soak: install
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(INDEX) evals/out test-artifacts .pytest_cache
