#!/usr/bin/env bash
# Installs every artefact of `make dist` the way a user would, in fresh places and
# with no Rust toolchain on PATH, and runs the same first steps with each: the wheel
# in a new virtualenv (Python creates a key, exchanges it, authorizes; mypy checks a
# typed use), the two npm tarballs in an empty project (require and import, the same
# calls on the store Python made; tsc checks both entry points' types), and the C
# library from `make install PREFIX=<temporary>` (examples/c/authorize.c built with
# pkg-config, shared and static, authorizing Python's token).
#
#   packaging/test_dist.sh            (make test-dist runs it after make dist)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIST="$ROOT/dist"
PYTHON="${PYTHON:-python3}"
VERSION="$("$PYTHON" "$ROOT/packaging/check_versions.py" --print-version)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/keyscope-dist-test.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
say() { printf '\n== %s\n' "$*"; }
fail() { echo "test-dist: $*" >&2; exit 1; }

for f in "keyscope-$VERSION-cp311-abi3-"*.whl "keyscope-$VERSION.tar.gz" "keyscope-$VERSION.tgz" \
    "keyscope-linux-x64-gnu-$VERSION.tgz"; do
    compgen -G "$DIST/$f" >/dev/null || fail "dist/$f is missing: run make dist first"
done
WHEEL="$(compgen -G "$DIST/keyscope-$VERSION-cp311-abi3-*.whl")"

say "the C library installs into a temporary prefix (make install)"
PREFIX="$WORK/prefix"
# DISTLIB (make test-dist passes the zig build that dist packed) names what to install.
make -s -C "$ROOT" install PREFIX="$PREFIX" ${DISTLIB:+DISTLIB="$DISTLIB" INSTALL_DEPS=} >/dev/null

# From here on, no Rust: drop every PATH entry that holds cargo, rustc or rustup.
NO_RUST_PATH=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
    [ -n "$d" ] || continue
    [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ] && continue
    NO_RUST_PATH="${NO_RUST_PATH:+$NO_RUST_PATH:}$d"
done
export PATH="$NO_RUST_PATH"
unset CARGO CARGO_HOME RUSTUP_HOME CARGO_BUILD_TARGET
! command -v cargo >/dev/null && ! command -v rustc >/dev/null || fail "a Rust toolchain is still on PATH"
echo "PATH has no cargo or rustc: $PATH"

say "Python: the wheel in a fresh virtualenv ($(basename "$WHEEL"))"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --no-index "$WHEEL"
(cd "$WORK" && "$VPY" "$ROOT/packaging/smoke/smoke.py" "$WORK/store.db" "$WORK/keys.json")
"$VPY" -m pip install -q "mypy>=1.10"
(cd "$WORK" && "$VPY" -m mypy --strict --no-incremental "$ROOT/packaging/smoke/smoke.py")
"$VPY" - <<EOF
import importlib.metadata as m
d = m.metadata("keyscope")
assert d["Version"] == "$VERSION", d["Version"]
extras = set(d.get_all("Provides-Extra") or [])
assert {"fastapi", "flask"} <= extras, extras
requires = [r.replace('"', "'") for r in d.get_all("Requires-Dist") or []]
assert any(r.startswith("fastapi") and "extra == 'fastapi'" in r for r in requires), requires
assert any(r.startswith("flask") and "extra == 'flask'" in r for r in requires), requires
assert d["License-Expression"] or d["License"], "no licence in the metadata"
print("metadata: version", d["Version"], "extras", sorted(extras))
EOF

say "Node: the two npm tarballs in an empty project"
mkdir "$WORK/npm"
cp "$ROOT/packaging/smoke/smoke.cjs" "$ROOT/packaging/smoke/smoke.mjs" \
    "$ROOT/packaging/smoke/types.mts" "$ROOT/packaging/smoke/types.cts" \
    "$ROOT/packaging/smoke/tsconfig.json" "$WORK/npm/"
(
    cd "$WORK/npm"
    npm init -y >/dev/null
    npm install --no-audit --no-fund --loglevel=error \
        "$DIST/keyscope-linux-x64-gnu-$VERSION.tgz" "$DIST/keyscope-$VERSION.tgz"
    [ -z "$(find node_modules -name '*.node' -path '*node_modules/keyscope/*')" ] \
        || fail "the main npm package carries a native addon"
    node smoke.cjs "$WORK/store.db" "$WORK/keys.json"
    node smoke.mjs "$WORK/store.db" "$WORK/keys.json"
    npm install --no-audit --no-fund --loglevel=error "typescript@5.9" "@types/node@20"
    npx tsc -p . && echo "tsc: both entry points' types check"
)

say "C: examples/c/authorize.c against the installed library, with pkg-config"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
[ "$(pkg-config --modversion keyscope)" = "$VERSION" ] || fail "keyscope.pc says $(pkg-config --modversion keyscope)"
TOKEN="$("$VPY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$WORK/keys.json")"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror "$ROOT/examples/c/authorize.c" -o "$WORK/authorize-shared" \
    $(pkg-config --cflags --libs keyscope) -Wl,-rpath,"$PREFIX/lib"
needed="$(readelf -d "$WORK/authorize-shared" | sed -n 's/.*Shared library: \[\(libkeyscope[^]]*\)\].*/\1/p')"
[ -n "$needed" ] && [ -e "$PREFIX/lib/$needed" ] || fail "the shared build needs '$needed', not in $PREFIX/lib"
echo "shared: needs $needed -> $(readlink "$PREFIX/lib/$needed")"
"$WORK/authorize-shared" "$WORK/store.db" "$TOKEN" reports read 127.0.0.1
# A static link: the archive instead of the shared library, and pkg-config's private libraries.
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror "$ROOT/examples/c/authorize.c" -o "$WORK/authorize-static" \
    $(pkg-config --cflags --static --libs keyscope | sed 's/-lkeyscope\b/-l:libkeyscope.a/')
! readelf -d "$WORK/authorize-static" | grep -q 'libkeyscope' || fail "the static build still needs libkeyscope.so"
echo "static: no libkeyscope.so needed"
"$WORK/authorize-static" "$WORK/store.db" "$TOKEN" reports read 127.0.0.1
if "$WORK/authorize-static" "$WORK/store.db" "$TOKEN" reports write 127.0.0.1; then
    fail "the C example allowed a write with a read-only token"
fi

say "every artefact installed and worked without a Rust toolchain"
