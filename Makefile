# snn-evolve — the two commands of the quick start are `make search` and `make test`.
# Every install goes through constraints.txt (torch==2.13.0, a CPU build).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PIN    := -c constraints.txt
BASE_STAMP := $(VENV)/.installed-base
STAMP  := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: bench-quickstart bench-setup venv system-deps test test-slow lint format bench bench-engine bench-attention bench-search bench-bif bench-sdsa bench-timesteps bench-snn-ann bench-continual bench-ray bench-ucr bench-tabular bench-ecg bench-long-run bench-proxies bench-fashion bench-all bench-tables search train clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

# what searching needs: the package and its dependencies, nothing of the dev stack
$(BASE_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(PIN) -e .
	touch $(BASE_STAMP)

$(STAMP): $(BASE_STAMP)
	$(PIP) install --quiet $(PIN) -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create/update .venv with the dev extra (idempotent)

# the Debian packages the tests use: Chromium (dashboard and report browser tests), PostgreSQL
# (processes sharing a study) and Fashion-MNIST (the real-file data test)
system-deps:  ## install the Debian packages the tests use (root + apt-get), or say what to install
	@need=""; \
	[ -x /usr/bin/chromium ] || need="$$need chromium"; \
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	[ -d /usr/share/datasets/fashion-mnist ] || need="$$need dataset-fashion-mnist"; \
	if [ -n "$$need" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages the tests use:$$need"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need) >/dev/null 2>&1 \
	      || { echo "make test: could not install$$need; install them with apt-get, then rerun"; exit 2; }; \
	  else \
	    echo "make test: the tests need the Debian packages$$need; run: sudo apt-get install$$need"; exit 2; \
	  fi; \
	fi

test: venv system-deps  ## set up everything the tests need (system packages included) and run them (what CI runs)
	$(BIN)/python -m pytest -q

test-slow: venv  ## run the long tests too (not in CI)
	$(BIN)/python -m pytest -q -m 'slow or not slow'

lint: venv  ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BENCH_STAMP): $(STAMP)
	$(PIP) install --quiet $(PIN) -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## neuron/MLP/CNN speed against snnTorch and SpikingJelly
	$(BIN)/python benchmarks/neurons.py --out benchmarks/results/neurons.json

bench-engine: venv  ## search-engine overhead per trial (target <= 0.3 s)
	$(BIN)/python benchmarks/engine_overhead.py --trials 50 --out benchmarks/results/engine_overhead.json

bench-attention: venv  ## SDSA vs standard attention block, forward + backward, N = 64 and 256
	$(BIN)/python benchmarks/attention_speed.py --out benchmarks/results/attention_speed.json

bench-search: $(BENCH_STAMP)  ## random, default and each cheaper method on two spaces, 3 seeds, hypervolume vs time (~75 min)
	$(BIN)/python benchmarks/search_efficiency.py --out benchmarks/results/search_efficiency.json

bench-bif: $(BENCH_STAMP)  ## LIF vs BIF, same architectures, digits + Fashion-MNIST, 3 seeds (~15 min)
	$(BIN)/python benchmarks/bif_vs_lif.py --out benchmarks/results/bif_vs_lif.json

bench-sdsa: $(BENCH_STAMP)  ## SDSA in one block / all blocks; searched hybrids vs all-standard (~20 min)
	$(BIN)/python benchmarks/sdsa_single_layer.py --out benchmarks/results/sdsa_single_layer.json

bench-timesteps: $(BENCH_STAMP)  ## T in {1,2,4,8,16} for the best searched transformer (~10 min)
	$(BIN)/python benchmarks/timesteps.py --out benchmarks/results/timesteps.json

bench-snn-ann: $(BENCH_STAMP)  ## the SNN-vs-ANN table: ANN, SNN, SNN + KD, converted SNN (~30 min)
	$(BIN)/python benchmarks/snn_vs_ann.py --out benchmarks/results/snn_vs_ann.json

bench-continual: $(BENCH_STAMP)  ## naive / replay / STDP / replay+STDP on Split- and Permuted-Digits, 3 seeds (~5 min)
	$(BIN)/python benchmarks/continual.py --out benchmarks/results/continual.json

bench-ucr: venv  ## temporal SNN (searched) vs its ANN twin on GunPoint, ItalyPowerDemand, BasicMotions, 3 seeds
	$(BIN)/python benchmarks/ucr.py --out benchmarks/results/ucr.json

bench-tabular: venv  ## searched SNN vs logistic regression / MLP on wine, iris, breast_cancer, 3 seeds (~25 min)
	$(BIN)/python benchmarks/tabular_baselines.py --out benchmarks/results/tabular_baselines.json

bench-ecg: venv  ## ECG anomaly detection (MIT-BIH): detection rate, false positives, energy per beat, 3 seeds
	$(BIN)/python benchmarks/ecg.py --out benchmarks/results/ecg.json

bench-long-run: venv  ## 300 trials through the real search loop: resident memory and time per trial (~4 min)
	$(BIN)/python benchmarks/long_run.py --trials 300 --out benchmarks/results/long_run.json

bench-ray: venv  ## Ray backend: trials/min with 1 vs 2 workers, per-trial overhead (~5 min)
	$(BIN)/python benchmarks/ray_scaling.py --out benchmarks/results/ray_scaling.json

bench-proxies: $(BENCH_STAMP)  ## zero-cost proxies (sahd, grad) vs briefly trained accuracy: Kendall tau, Spearman rho, 100 archs per space
	$(BIN)/python benchmarks/proxies.py --out benchmarks/results/proxies.json

bench-fashion: $(BENCH_STAMP)  ## a Fashion-MNIST SNN searched and retrained on the full data set: >= 90 % at <= 20 % of the ANN's energy? (~1 h)
	$(BIN)/python benchmarks/fashion_target.py --out benchmarks/results/fashion_target.json

# every benchmark writes benchmarks/results/<name>.json (committed); the docs' tables are rendered
# from those files (benchmarks/render_tables.py), never copied by hand
bench-quickstart: $(BASE_STAMP)  ## the quick-start search as make search runs it, timed (the README's output and time; ~3.5 min)
	$(BIN)/python benchmarks/quickstart.py --out benchmarks/results/quickstart.json

bench-setup: $(BASE_STAMP)  ## set-up time of make search and make test on a clean clone with an empty pip cache (~2 min)
	$(BIN)/python benchmarks/setup_time.py --out benchmarks/results/setup_time.json

BENCH_ALL := bench-quickstart bench-setup bench bench-engine bench-attention bench-search bench-bif bench-sdsa bench-timesteps \
	bench-snn-ann bench-continual bench-ray bench-ucr bench-tabular bench-ecg bench-long-run bench-proxies bench-fashion

bench-all: $(BENCH_STAMP)  ## the quick-start search (read by bench-sdsa/-timesteps), every benchmark one at a time, then the tables (~4 h on 2 quiet cores)
	$(BIN)/evolve search --space hybrid_attention --no-progress
	for t in $(BENCH_ALL); do $(MAKE) --no-print-directory $$t || exit 1; done
	$(MAKE) --no-print-directory bench-tables

bench-tables:  ## render the docs' benchmark tables from benchmarks/results/*.json (no torch needed)
	$(PYTHON) benchmarks/render_tables.py

search: $(BASE_STAMP)  ## set up what searching needs, then search the default space (hybrid_attention) on digits (~3.5 min after set-up)
	$(BIN)/evolve search --space hybrid_attention

train: venv  ## train one spiking MLP on digits and report accuracy/energy
	$(BIN)/evolve train --data digits --arch mlp

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
