# Sayso: `make run` opens the studio, `make test` runs ruff, the engine's doctests and the whole test suite.
# Both install everything first: system packages (apt-get, as root) and a Python
# venv kept outside the clone, keyed by a hash of pyproject.toml, so reruns are fast.
SHELL := /bin/bash
PYTHON ?= python3
VENV_HOME ?= $(HOME)/.cache/sayso
VENV_KEY := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
VENV := $(VENV_HOME)/venv-$(VENV_KEY)
PY := .venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# pip's notes about index folders this machine's pip config names but lacks, and setuptools' banners
QUIET_PIP := { grep -vE "^WARNING: Location|BuildBackendWarning|^ +(!!|\*+|$$)|^  +[A-Z].*|corresp\(|with strategy|as your package" || true; }

.PHONY: run test setup system-deps bench base-model clean-venv soak

run: setup
	$(PY) -m app $(ARGS)

test: setup
	$(PY) -m ruff check .
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider --doctest-modules engine
	@scripts/virtual_mic.sh start
	@set +e; eval "$$(scripts/virtual_mic.sh env)"; QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  scripts/virtual_mic.sh stop; if [ $$rc -eq 5 ]; then echo "no tests ran"; exit 1; fi; exit $$rc

setup: system-deps .venv/.installed

# kill -9 of every durable writer (import, edits, training, registry, takes) for SOAK_MINUTES; see tests/faults
SOAK_MINUTES ?= 10
soak: setup
	$(PY) -m tests.faults.soak --minutes $(SOAK_MINUTES)

system-deps:
	@scripts/system_deps.sh

.venv/.installed: pyproject.toml
	@set -o pipefail; if [ ! -x "$(VENV)/bin/python" ] || [ ! -f "$(VENV)/.complete" ]; then \
	  echo "Creating the venv in $(VENV) (torch is large: this takes a few minutes once)"; \
	  rm -rf "$(VENV)" && $(PYTHON) -m venv "$(VENV)" && \
	  "$(VENV)/bin/pip" install -q --upgrade pip setuptools wheel 2>&1 | $(QUIET_PIP) && \
	  "$(VENV)/bin/pip" install -q -e ".[test,whisper,whisper-torch]" 2>&1 | $(QUIET_PIP) && touch "$(VENV)/.complete"; \
	else "$(VENV)/bin/pip" install -q --no-deps --no-build-isolation -e . 2>&1 | $(QUIET_PIP); fi
	@ln -sfn "$(VENV)" .venv
	@touch .venv/.installed

bench: setup
	$(PY) benchmarks/wer.py
	$(PY) benchmarks/wer.py --model resources/models/base-v2
	$(PY) benchmarks/silence_around.py --every 3
	$(PY) benchmarks/whisper_wer.py --vocabulary --long --direct
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/whisper_studio.py
	$(PY) benchmarks/whisper_live.py
	$(PY) benchmarks/long_file_memory.py
	$(PY) benchmarks/vocabulary_scale.py
	$(PY) benchmarks/transcribe_rtf.py
	$(PY) benchmarks/live_latency.py
	$(PY) benchmarks/live_latency.py --model resources/models/base-v2
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/live_fps.py --with-training
	$(PY) benchmarks/few_shot.py
	$(PY) benchmarks/few_shot.py --speaker jason
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/personalize_load.py
	$(PY) benchmarks/training.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/gui_stall.py
	$(PY) benchmarks/label_qa.py
	$(PY) benchmarks/store_fetch.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/labeling_scroll.py
	$(PY) benchmarks/embedding_search.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/embedding_map_fps.py
	$(PY) benchmarks/attention_overhead.py
	$(PY) benchmarks/confidence.py
	$(PY) benchmarks/whisper_torch_parity.py
	$(PY) benchmarks/whisper_word_boundaries.py
	$(PY) benchmarks/whisper_personalize.py --k 1,3,5 --draws 3
	$(PY) benchmarks/whisper_personalize.py --speakers "" --an4-speakers fejs,mcel --draws 3 --an4 0
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/personalize_load.py --model whisper-base --busy 0,2

base-model: setup
	.venv/bin/pip install -q -e ".[recipes]"
	$(PY) -m engine.recipes.base $(ARGS)

clean-venv:
	rm -rf "$(VENV)" .venv
