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

# The PostgreSQL server the fleet suites use (each run makes and drops its own schemas).
KEYSCOPE_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export KEYSCOPE_TEST_DATABASE_URL

.PHONY: all demo test browser server-bin pg-check test-c-postgres test-rust test-python test-node test-c test-interop header valgrind example-c lint python \
	python-release node node-release bench bench-rust bench-python bench-node bench-c bench-table clean \
	dist dist-libs zig-tools zig-libs install test-dist doc

all: test

$(VENV)/.ready:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "maturin>=1.16,<2" "pytest>=8" "mypy>=1.10" \
		"pyjwt[crypto]" authlib fastapi httpx2 flask
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

## The main job end to end on the embedded SQLite default, across Python, Node and C.
demo: python node example-c
	$(PY) examples/demo.py --c target/authorize

lint:
	$(PYTHON) packaging/check_versions.py
	$(PYTHON) -m unittest -q packaging/test_check_versions.py
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Stops with a message when the PostgreSQL suites have no server to talk to.
pg-check:
	@$(PYTHON) -c "import socket, urllib.parse as u; p = u.urlparse('$(KEYSCOPE_TEST_DATABASE_URL)'); \
		socket.create_connection((p.hostname or '127.0.0.1', p.port or 5432), 3).close()" 2>/dev/null || { \
		echo "make test needs PostgreSQL for the fleet suites, and none answers at $(KEYSCOPE_TEST_DATABASE_URL)."; \
		echo "Start one (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set"; \
		echo "KEYSCOPE_TEST_DATABASE_URL=postgresql://user@host:port/db to a server where keyscope may create schemas."; \
		exit 1; }

## The core suites on SQLite, then again on PostgreSQL (same tests, KEYSCOPE_TEST_BACKEND).
test-rust: pg-check
	$(CARGO) test -p keyscope-core -p keyscope-c
	KEYSCOPE_TEST_BACKEND=postgres $(CARGO) test -p keyscope-core --tests

## keyscope-server (debug), which the Python suite's Key Admin API test runs.
server-bin:
	$(CARGO) build -q -p keyscope-server

test-python: python pg-check server-bin
	cd python && ../$(PY) -m pytest -q tests
	cd python && KEYSCOPE_TEST_BACKEND=postgres ../$(PY) -m pytest -q tests
	cd python && ../$(PY) -m mypy.stubtest keyscope._keyscope
	cd python && ../$(PY) -m mypy --strict keyscope

## Debian's Chromium for the console's browser test (installed from the distribution,
## never downloaded by a browser installer).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

test-node: node python pg-check browser
	@git diff --quiet -- node/index.js node/index.d.ts || { \
		echo "node/index.js or node/index.d.ts differ from the generated ones: commit them"; \
		git diff --stat -- node/index.js node/index.d.ts; exit 1; }
	cd node && KEYSCOPE_PYTHON=$(abspath $(PY)) npm test --silent
	cd node && KEYSCOPE_TEST_BACKEND=postgres KEYSCOPE_PYTHON=$(abspath $(PY)) npm test --silent
	cd node && npm run --silent typecheck

## The C library: header drift check, then the C suite under ASan/UBSan and valgrind.
LIBDIR   := target/$(CARGO_BUILD_TARGET)/debug
RELDIR   := target/$(CARGO_BUILD_TARGET)/release
CBUILD   := target/c
CWARN    := -std=c11 -Wall -Wextra -Werror -Iinclude -g
SYSLIBS  := -lpthread -ldl -lm -lrt -lgcc_s -lutil -lc
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all
VALGRIND := valgrind --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=1 -q

header:
	KEYSCOPE_GENERATE_HEADER=1 $(CARGO) build -q -p keyscope-c

valgrind:
	@command -v valgrind >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q valgrind; }

test-c: header valgrind
	@git diff --quiet -- include/keyscope.h || { \
		echo "include/keyscope.h differs from the generated one: commit it"; \
		git diff --stat -- include/keyscope.h; exit 1; }
	mkdir -p $(CBUILD)
	$(CC) $(CWARN) $(SANITIZE) tests/c/test_keyscope.c $(LIBDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/test_keyscope_asan
	$(CC) $(CWARN) $(SANITIZE) tests/c/surface.c $(LIBDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/surface_asan
	$(CC) $(CWARN) $(SANITIZE) tests/c/surface_v2.c $(LIBDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/surface_v2_asan
	$(CC) $(CWARN) $(SANITIZE) tests/c/test_vectors.c $(LIBDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/test_vectors_asan
	$(PYTHON) core/tests/vectors/flatten.py > $(CBUILD)/vectors.tsv
	$(CBUILD)/test_keyscope_asan $(CBUILD)
	$(MAKE) -s test-c-postgres
	$(CBUILD)/surface_asan $(CBUILD)/surface-asan.db
	$(CBUILD)/surface_v2_asan
	$(CBUILD)/test_vectors_asan $(CBUILD)/vectors.tsv
	ln -sf libkeyscope.so $(LIBDIR)/libkeyscope.so.$(SOLEVEL)
	$(CC) $(CWARN) tests/c/test_keyscope.c -L$(LIBDIR) -lkeyscope -Wl,-rpath,$(abspath $(LIBDIR)) -lpthread -o $(CBUILD)/test_keyscope
	$(CC) $(CWARN) tests/c/surface.c -L$(LIBDIR) -lkeyscope -Wl,-rpath,$(abspath $(LIBDIR)) -lpthread -o $(CBUILD)/surface
	$(CC) $(CWARN) tests/c/surface_v2.c -L$(LIBDIR) -lkeyscope -Wl,-rpath,$(abspath $(LIBDIR)) -lpthread -o $(CBUILD)/surface_v2
	$(VALGRIND) $(CBUILD)/test_keyscope $(CBUILD)
	$(VALGRIND) $(CBUILD)/surface $(CBUILD)/surface-valgrind.db
	$(VALGRIND) $(CBUILD)/surface_v2
	$(CC) $(CWARN) tests/c/test_vectors.c -L$(LIBDIR) -lkeyscope -Wl,-rpath,$(abspath $(LIBDIR)) -lpthread -o $(CBUILD)/test_vectors
	$(VALGRIND) $(CBUILD)/test_vectors $(CBUILD)/vectors.tsv

## The C suite and the C conformance test again on PostgreSQL: fresh databases, dropped afterwards.
PG_ADMIN := PGOPTIONS=--client-min-messages=warning psql -q -v ON_ERROR_STOP=1 "$(KEYSCOPE_TEST_DATABASE_URL)" -c
PG_BASE  := $(shell $(PYTHON) -c "import urllib.parse as u; p = u.urlsplit('$(KEYSCOPE_TEST_DATABASE_URL)'); print(u.urlunsplit(p._replace(path='/')))")
test-c-postgres: pg-check
	$(PG_ADMIN) "DROP DATABASE IF EXISTS kst_c_main WITH (FORCE)" -c "CREATE DATABASE kst_c_main"
	$(PG_ADMIN) "DROP DATABASE IF EXISTS kst_c_shared WITH (FORCE)" -c "CREATE DATABASE kst_c_shared"
	$(PG_ADMIN) "DROP DATABASE IF EXISTS kst_c_surface WITH (FORCE)" -c "CREATE DATABASE kst_c_surface"
	$(CBUILD)/test_keyscope_asan $(CBUILD) "$(PG_BASE)kst_c_main" "$(PG_BASE)kst_c_shared" && \
		$(CBUILD)/surface_asan "$(PG_BASE)kst_c_surface"; rc=$$?; \
		$(PG_ADMIN) "DROP DATABASE kst_c_main WITH (FORCE)" -c "DROP DATABASE kst_c_shared WITH (FORCE)" \
			-c "DROP DATABASE kst_c_surface WITH (FORCE)"; exit $$rc

## examples/c/authorize.c, linked statically: target/authorize
example-c:
	$(CARGO) build -q --release -p keyscope-c
	$(CC) -O2 $(CWARN) examples/c/authorize.c $(RELDIR)/libkeyscope.a $(SYSLIBS) -o target/authorize

## Python, Node and C processes on one store at once: an SQLite file, then a fresh
## PostgreSQL database (made and dropped by run.py).
test-interop: python node header pg-check
	mkdir -p $(CBUILD)
	$(CC) $(CWARN) tests/interop/c_worker.c $(LIBDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/interop_worker
	$(PY) tests/interop/run.py node $(CBUILD)/interop_worker 5
	$(PY) tests/interop/run.py node $(CBUILD)/interop_worker 5 --db "$(KEYSCOPE_TEST_DATABASE_URL)"

.PHONY: demo-fleet bench-revocation fuzz-short

## The demo on PostgreSQL with three hosts (Python, Node, C processes, each with its own
## handle) on a fresh database, dropped at the end.
demo-fleet: python node header pg-check
	mkdir -p $(CBUILD)
	$(CC) $(CWARN) examples/c/fleet_host.c $(LIBDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/fleet_host
	$(PY) examples/demo_fleet.py --db "$(KEYSCOPE_TEST_DATABASE_URL)" --c $(CBUILD)/fleet_host

## Commit-to-refusal latency on other processes (C and Node) over 300 revocations on
## PostgreSQL: p50, p99, max. A benchmark, run by hand; not part of make test.
bench-revocation: python node header pg-check
	mkdir -p $(CBUILD)
	$(CC) $(CWARN) tests/interop/c_worker.c $(LIBDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/interop_worker
	$(PY) benches/revocation_latency.py --db "$(KEYSCOPE_TEST_DATABASE_URL)" --c-worker $(CBUILD)/interop_worker

## Every fuzz target for FUZZ_TIME seconds, from seeds written from the shared vectors
## (fuzz/README.md; long runs by hand). cargo fuzz wants a nightly compiler: the
## installed one is told to act as one.
FUZZ_TARGETS := token_decode secret grants networks token_endpoint client_address cursor handle_http
FUZZ_TIME    ?= 10
fuzz-short:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install -q cargo-fuzz
	$(PYTHON) fuzz/seeds.py
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t artifacts && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$t corpus/$$t seeds/$$t -- \
			-max_total_time=$(FUZZ_TIME) > artifacts/$$t.log 2>&1 \
			|| { tail -40 artifacts/$$t.log; echo "fuzz target $$t failed"; exit 1; }; \
		echo "$$t: $$(grep -h '^Done' artifacts/$$t.log)"; \
	done

## Every suite, with the lints.
test: lint test-rust test-python test-node test-c test-interop test-server fuzz-short bench-check

bench-rust:
	$(CARGO) bench -p keyscope-benches

bench-python: python-release
	$(PY) python/benches/bench_lifecycle.py
	$(PY) python/benches/bench_tokens.py

bench-node: node-release
	cd node && npm install --no-save --no-audit --no-fund jsonwebtoken@9 jose@6 >/dev/null
	cd node && node bench/authorize.js

bench-c:
	$(CARGO) build -q --release -p keyscope-c
	mkdir -p $(CBUILD)
	$(CC) -O2 $(CWARN) tests/c/bench_authorize.c $(RELDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/bench_authorize
	$(CBUILD)/bench_authorize

bench: bench-rust bench-python bench-node bench-c

## One table of every language beside its peers (README "Benchmarks").
bench-table: python-release node-release
	$(PIP) install -q joserfc
	cd node && npm install --no-save --no-audit --no-fund jsonwebtoken@9 jose@6 >/dev/null
	$(CARGO) build -q --release -p keyscope-c
	mkdir -p $(CBUILD)
	$(CC) -O2 $(CWARN) tests/c/bench_authorize.c $(RELDIR)/libkeyscope.a $(SYSLIBS) -o $(CBUILD)/bench_authorize
	$(PY) benches/table.py $(abspath $(PY))

clean:
	$(CARGO) clean
	rm -rf $(VENV) python/keyscope/*.so node/*.node node/node_modules dist

## Packages as a release would publish them (docs/packaging.md), built into dist/ with
## the `dist` profile (thin LTO): the abi3 wheel and the sdist, the npm package and its
## linux-x64-gnu addon package, the C library as an installed tree, and the core
## crate. Every binary is linked with zig against glibc $(GLIBC)'s symbols (maturin
## --zig, cargo zigbuild), in target/manylinux/, so it loads on older distributions
## than the build host. `make test-dist` installs each in a clean place and uses it
## without Rust.
VERSION        := $(shell $(PYTHON) packaging/check_versions.py --print-version)
SOLEVEL        := $(shell $(PYTHON) packaging/check_versions.py --print-soname-level)
DIST_PROFILE   ?= dist
GLIBC          ?= 2.28
MANYLINUX      := manylinux_$(subst .,_,$(GLIBC))
ZIGDIR         := target/manylinux
ZIGLIB         := $(ZIGDIR)/$(CARGO_BUILD_TARGET)/$(DIST_PROFILE)
ZIGPATH        := PATH="$(abspath $(VENV))/bin:$$PATH"
PREFIX         ?= /usr/local
INSTALL_LIBDIR ?= $(PREFIX)/lib
CTREE          := target/c-dist/keyscope-c-$(VERSION)
# What `make install` copies: a build for this machine unless told otherwise (dist
# installs the zig build with DISTLIB=$(ZIGLIB) INSTALL_DEPS=).
DISTLIB        ?= target/$(CARGO_BUILD_TARGET)/$(DIST_PROFILE)
INSTALL_DEPS   ?= dist-libs

## The C library and the Node addon for this machine.
dist-libs:
	$(CARGO) build -q --profile $(DIST_PROFILE) -p keyscope-c -p keyscope-node

## zig (the ziglang Python package) and cargo-zigbuild, for linking against an older glibc.
zig-tools: $(VENV)/.ready
	$(PIP) install -q "ziglang==0.17.1"
	@command -v cargo-zigbuild >/dev/null 2>&1 || $(CARGO) install -q --locked cargo-zigbuild@0.24.1

## The C library and the Node addon as shipped: glibc $(GLIBC) and later.
zig-libs: zig-tools
	$(ZIGPATH) CARGO_TARGET_DIR=$(ZIGDIR) $(CARGO) zigbuild -q --profile $(DIST_PROFILE) \
		--target $(CARGO_BUILD_TARGET).$(GLIBC) -p keyscope-c -p keyscope-node

## The C library into $(DESTDIR)$(PREFIX): header, libkeyscope.so with its SONAME and
## links, libkeyscope.a, and keyscope.pc (static flags in Libs.private).
install: $(INSTALL_DEPS)
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig
	install -m 644 include/keyscope.h $(DESTDIR)$(PREFIX)/include/keyscope.h
	install -m 755 $(DISTLIB)/libkeyscope.so $(DESTDIR)$(INSTALL_LIBDIR)/libkeyscope.so.$(VERSION)
	ln -sfn libkeyscope.so.$(VERSION) $(DESTDIR)$(INSTALL_LIBDIR)/libkeyscope.so.$(SOLEVEL)
	ln -sfn libkeyscope.so.$(SOLEVEL) $(DESTDIR)$(INSTALL_LIBDIR)/libkeyscope.so
	install -m 644 $(DISTLIB)/libkeyscope.a $(DESTDIR)$(INSTALL_LIBDIR)/libkeyscope.a
	strip --strip-debug $(DESTDIR)$(INSTALL_LIBDIR)/libkeyscope.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(INSTALL_LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@LIBS_PRIVATE@|$(SYSLIBS)|' packaging/keyscope.pc.in > $(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig/keyscope.pc

## The public Rust API's documentation, warnings as errors.
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -q --no-deps -p keyscope-core

dist: $(VENV)/.ready node/node_modules/.ready zig-libs doc
	rm -rf dist target/c-dist && mkdir -p dist
	$(PIP) install -q "auditwheel==6.8.2"
	cd python && $(ZIGPATH) ../$(PY) -m maturin build -q --zig --compatibility $(MANYLINUX) \
		--profile $(DIST_PROFILE) --target-dir ../$(ZIGDIR) --out ../dist
	cd python && ../$(PY) -m maturin sdist --out ../dist
	$(VENV)/bin/auditwheel show dist/keyscope-$(VERSION)-*.whl
	$(PYTHON) packaging/npm_pack.py $(ZIGLIB)/libkeyscope_node.so dist
	$(MAKE) -s install DISTLIB=$(ZIGLIB) INSTALL_DEPS= DESTDIR=$(abspath $(CTREE)) PREFIX=/usr/local
	tar -C $(CTREE)/usr/local --transform 's|^\.|keyscope-c-$(VERSION)|' -czf \
		dist/keyscope-c-$(VERSION)-$(CARGO_BUILD_TARGET).tar.gz .
	$(CARGO) package -q -p keyscope-core --allow-dirty
	cp target/package/keyscope-core-$(VERSION).crate dist/
	$(PYTHON) packaging/check_versions.py --dist dist --glibc $(GLIBC)
	@ls -l dist

test-dist: dist
	PYTHON=$(PYTHON) DISTLIB=$(ZIGLIB) packaging/test_dist.sh

## keyscope-server (server/): the built binary run as a process on SQLite files, then
## its PostgreSQL test on the fleet suites' server. Load tests by hand: server/README.md.
.PHONY: test-server
test-server: pg-check
	$(CARGO) test -p keyscope-server
	KEYSCOPE_TEST_BACKEND=postgres $(CARGO) test -p keyscope-server --test server postgres

## Instruction-count benchmarks and their committed baselines (docs/performance.md):
## bench-check (in make test), bench-baseline, bench-threads.
include benches/bench.mk
