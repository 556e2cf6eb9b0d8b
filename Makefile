# keyscope: `make demo` tells the story, `make test` builds and checks everything.
# Both work on a fresh clone: they create .venv and node/node_modules themselves.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
CARGO  ?= cargo

# napi's CLI always passes --target <host>; giving cargo and maturin the same target
# lets all three share one build of the dependencies.
export CARGO_BUILD_TARGET := $(shell rustc -vV | sed -n 's/^host: //p')

.PHONY: all demo test test-rust test-python test-node lint python python-release node node-release \
	bench bench-rust bench-python bench-node clean

all: test

$(VENV)/.ready:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "maturin>=1.16,<2" "pytest>=8" "mypy>=1.10" \
		pyjwt fastapi httpx2 flask
	touch $@

node/node_modules/.ready: node/package.json node/package-lock.json
	cd node && npm ci --no-audit --no-fund
	touch $@

## The Python extension, built in place (debug: fast to build; Argon2 is optimized anyway).
python: $(VENV)/.ready
	cd python && ../$(PY) -m maturin develop -q

python-release: $(VENV)/.ready
	cd python && ../$(PY) -m maturin develop -q --release

## The Node addon, built in place; index.js and index.d.ts are regenerated.
node: node/node_modules/.ready
	cd node && npm run --silent build:debug

node-release: node/node_modules/.ready
	cd node && npm run --silent build

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

test-node: node python
	@git diff --quiet -- node/index.js node/index.d.ts || { \
		echo "node/index.js or node/index.d.ts differ from the generated ones: commit them"; \
		git diff --stat -- node/index.js node/index.d.ts; exit 1; }
	cd node && KEYSCOPE_PYTHON=$(abspath $(PY)) npm test --silent
	cd node && npm run --silent typecheck

## Every suite, with the lints.
test: lint test-rust test-python test-node

bench-rust:
	$(CARGO) bench -p keyscope-benches

bench-python: python-release
	$(PY) python/benches/bench_lifecycle.py
	$(PY) python/benches/bench_tokens.py

bench-node: node-release
	cd node && npm install --no-save --no-audit --no-fund jsonwebtoken@9 jose@6 >/dev/null
	cd node && node bench/authorize.js

bench: bench-rust bench-python bench-node

clean:
	$(CARGO) clean
	rm -rf $(VENV) python/keyscope/*.so node/*.node node/node_modules
