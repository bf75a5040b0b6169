# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when it is missing and (re)install the project when pyproject.toml or
# constraints.txt changed since the last install.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo_output

.PHONY: demo test lint typecheck install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[train,service,tracking,ray,dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/forecasting demo --output $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check forecasting training serving tests benchmarks
	$(BIN)/ruff format --check forecasting training serving tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# the suite on TEST_PROCESSES processes, a test file to each at a time (its module fixtures
# are built once); TEST_PROCESSES=0 runs it in this process alone
TEST_PROCESSES ?= 2

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
