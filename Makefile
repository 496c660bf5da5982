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

.PHONY: install demo ingest serve test test-fast lint bench soak eval refusal-model reader clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned in the same step as sentence-transformers: otherwise pip pulls CUDA wheels
	$(BIN)/pip install -q -c constraints.txt "torch==2.13.0" -e ".[test]"
	touch $@

install: $(BIN)/.installed

# online, the catalogue's other public documents are fetched first (sha256-checked);
# offline that is one line and the bundled documents are ingested as they are
ingest: install
	-$(BIN)/bronwijzer corpus download --to corpus --offline-ok
	$(BIN)/bronwijzer ingest corpus --index $(INDEX)

demo: ingest
	$(BIN)/bronwijzer serve --index $(INDEX) --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/bronwijzer serve --index $(INDEX) --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .

# one worker per core; an idle worker takes tests from the busy one (worksteal: 3.5 min
# against 3.9 with a file per worker, whose slowest file kept one worker busy alone)
test: install lint
	$(BIN)/python -m pytest -n auto --dist worksteal

# the edit loop: everything but the shared-corpus index, servers and the browser
test-fast: install lint
	$(BIN)/python -m pytest -n auto --dist worksteal -m "not slow and not browser"

eval: install
	$(BIN)/bronwijzer ingest corpus --index $(INDEX)
	$(BIN)/bronwijzer eval run evals/datasets/sample.jsonl --index $(INDEX) --out evals/out/sample

# the refusal model is fitted on the tune halves of both shared-corpus datasets (and their
# leave-one-document-out near misses), over an index of ../shared/corpus
SHARED_INDEX ?= index-shared
refusal-model: install
	$(BIN)/bronwijzer ingest ../shared/corpus --index $(SHARED_INDEX)
	BRONWIJZER_READER=off $(BIN)/bronwijzer eval fit-refusal evals/datasets/shared_corpus.jsonl \
		evals/datasets/civil_servant.jsonl --index $(SHARED_INDEX) \
		--out assistant/refusal_model.json
	# the same with the reader's signal: the model used while the bundled reader is on
	BRONWIJZER_READER=bundled $(BIN)/bronwijzer eval fit-refusal \
		evals/datasets/shared_corpus.jsonl evals/datasets/civil_servant.jsonl \
		--index $(SHARED_INDEX) --out assistant/refusal_model_reader.json

# the reader (assistant/reader.py): e5 trained on the reading set (evals/datasets/reading)
# over an index of ../shared/training_corpus; written to $(READER_OUT) with its manifest.
# Copy it to assistant/models/ only when the evaluation improves (README, "The reader").
TRAINING_INDEX ?= index-training
READER_OUT ?= build/reader
READER_FRACTION ?= 1.0
reader: install
	$(BIN)/bronwijzer ingest ../shared/training_corpus --index $(TRAINING_INDEX)
	$(BIN)/bronwijzer reading check
	$(BIN)/bronwijzer reading train --index $(TRAINING_INDEX) --out $(READER_OUT) \
		--fraction $(READER_FRACTION)

bench: install
	$(BIN)/python -m bench

# long hardening run: 20 SIGKILL trials, 50 chat sessions for 60 s (figures in test-artifacts/)
soak: install
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(INDEX) evals/out test-artifacts .pytest_cache build
