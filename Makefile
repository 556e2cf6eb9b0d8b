# keyscope: `make demo` tells the story, `make test` builds and checks everything.
# Both work on a fresh clone: they create .venv and install what they need.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
CARGO  ?= cargo

.PHONY: all demo test test-rust test-python lint python python-release bench bench-rust bench-python clean

all: test

$(VENV)/.ready:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "maturin>=1.16,<2" "pytest>=8" "mypy>=1.10" \
		pyjwt fastapi httpx2 flask
	touch $@

## Build the Python extension in place (debug: fast to build; Argon2 is optimized anyway).
python: $(VENV)/.ready
	cd python && ../$(PY) -m maturin develop -q

python-release: $(VENV)/.ready
	cd python && ../$(PY) -m maturin develop -q --release

## The main job end to end on the embedded SQLite default.
demo: python
	$(PY) examples/demo.py

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test -p keyscope-core

test-python: python
	cd python && ../$(PY) -m pytest -q tests
	cd python && ../$(PY) -m mypy.stubtest keyscope._keyscope

## Every suite, with the lints.
test: lint test-rust test-python

bench-rust:
	$(CARGO) bench -p keyscope-benches

bench-python: python-release
	$(PY) python/benches/bench_lifecycle.py
	$(PY) python/benches/bench_tokens.py

bench: bench-rust bench-python

clean:
	$(CARGO) clean
	rm -rf $(VENV) python/keyscope/*.so
