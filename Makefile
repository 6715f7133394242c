# The two commands a newcomer types: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing cmkt and its dependencies into $(VENV) (log: $(VENV)/install.log)"
	@# no pip cache: torch and its CUDA libraries are several GB, and a cached second copy has filled a small disk
	$(BIN)/pip install --disable-pip-version-check --no-cache-dir -e '.[quickstart,dev,export,bench,dnsmos,corpus]' > $(VENV)/install.log 2>&1 \
		|| (tail -n 40 $(VENV)/install.log; exit 1)
	$(BIN)/python -c "import cmkt, torch, torchaudio, sentence_transformers, piper" 
	touch $(STAMP)

demo: setup
	$(BIN)/python recipes/quickstart/run.py --out runs/quickstart

# ruff: the style and shape rules in pyproject.toml ([tool.ruff]); `ruff format .` fixes the layout
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf runs
