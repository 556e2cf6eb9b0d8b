"""One version for every artefact: the workspace's, in Cargo.toml.

    python3 packaging/check_versions.py                 # the source tree
    python3 packaging/check_versions.py --dist dist     # and every artefact in dist/
    python3 packaging/check_versions.py --dist dist --glibc 2.28   # and no newer glibc symbol
    python3 packaging/check_versions.py --print-version

Exits 1 naming each file that disagrees. Standard library only (Python >= 3.11).
"""

import argparse
import io
import os
import json
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(os.environ.get("KEYSCOPE_ROOT") or Path(__file__).resolve().parent.parent)


def workspace_version() -> str:
    return tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def soname_level(version: str) -> str:
    """The SONAME's version part (bindings/c/build.rs): MAJOR, or 0.MINOR before 1.0."""
    major, minor = version.split(".")[:2]
    return f"0.{minor}" if major == "0" else major


def check_source(v: str, problems: list[str]) -> None:
    for manifest in ["core", "bindings/python", "bindings/node", "bindings/c", "server", "benches"]:
        pkg = tomllib.loads((ROOT / manifest / "Cargo.toml").read_text())["package"]
        if pkg.get("version") != {"workspace": True}:
            problems.append(f"{manifest}/Cargo.toml: version is {pkg.get('version')!r}, not version.workspace = true")
    pyproject = tomllib.loads((ROOT / "python/pyproject.toml").read_text())["project"]
    if "version" in pyproject or "version" not in pyproject.get("dynamic", []):
        problems.append("python/pyproject.toml: the version must be dynamic (maturin reads Cargo.toml)")
    main = json.loads((ROOT / "node/package.json").read_text())
    if main["version"] != v:
        problems.append(f"node/package.json: version {main['version']}")
    for pj in sorted((ROOT / "node/npm").glob("*/package.json")):
        if json.loads(pj.read_text())["version"] != v:
            problems.append(f"{pj.relative_to(ROOT)}: version {json.loads(pj.read_text())['version']}")
    # napi's loader compares the platform package's version with the one it was built for.
    loader = (ROOT / "node/index.js").read_text()
    for found in sorted(set(re.findall(r"bindingPackageVersion !== '([^']+)'", loader))):
        if found != v:
            problems.append(f"node/index.js: the loader expects platform packages at {found}")
    check_header((ROOT / "include/keyscope.h").read_text(), v, "include/keyscope.h", problems)


def check_header(text: str, v: str, where: str, problems: list[str]) -> None:
    major, minor, patch = re.split(r"[.-]", v)[:3]
    want = {"KEYSCOPE_VERSION": f'"{v}"', "KEYSCOPE_VERSION_MAJOR": major,
            "KEYSCOPE_VERSION_MINOR": minor, "KEYSCOPE_VERSION_PATCH": patch}
    for name, value in want.items():
        m = re.search(rf"^#define {name} (\S+)$", text, re.M)
        if not m or m.group(1) != value:
            problems.append(f"{where}: {name} is {m.group(1) if m else 'missing'}, not {value}")


def only(dist: Path, pattern: str, problems: list[str]) -> Path | None:
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        problems.append(f"dist/: expected one {pattern}, found {[f.name for f in found]}")
        return None
    return found[0]


def tar_member(path: Path, name_re: str) -> bytes:
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if re.fullmatch(name_re, m.name) and m.isfile():
                f = t.extractfile(m)
                assert f is not None
                return f.read()
    raise KeyError(f"{path.name} has no member matching {name_re}")


def metadata_version(text: str) -> str | None:
    m = re.search(r"^Version: (\S+)$", text, re.M)
    return m.group(1) if m else None


def inspect(binary: bytes, where: Path, tool: list[str]) -> str:
    """What `tool` (readelf, objdump) prints about a shared object held in memory."""
    tmp = where / ".check.so"
    tmp.write_bytes(binary)
    try:
        return subprocess.run([*tool, str(tmp)], capture_output=True, text=True, check=True).stdout
    finally:
        tmp.unlink()


def glibc_needed(binary: bytes, where: Path) -> tuple[int, ...]:
    """The newest glibc symbol version a shared object needs (objdump -T)."""
    syms = inspect(binary, where, ["objdump", "-T"])
    versions = [tuple(int(p) for p in m.split(".")) for m in re.findall(r"GLIBC_([0-9][0-9.]*)", syms)]
    return max(versions, default=(0,))


def check_glibc(dist: Path, v: str, glibc: str, problems: list[str]) -> None:
    limit = tuple(int(p) for p in glibc.split("."))
    binaries: list[tuple[str, bytes]] = []
    for wheel in dist.glob(f"keyscope-{v}-*.whl"):
        with zipfile.ZipFile(wheel) as z:
            binaries += [(f"{wheel.name}:{n}", z.read(n)) for n in z.namelist() if n.endswith(".so")]
    for tgz in dist.glob("keyscope-linux-*.tgz"):
        binaries.append((tgz.name, tar_member(tgz, r"package/.*\.node")))
    for c in dist.glob(f"keyscope-c-{v}-*.tar.gz"):
        binaries.append((c.name, tar_member(c, rf".*/lib/libkeyscope\.so\.{re.escape(v)}")))
    if not binaries:
        problems.append("dist/: no binaries to check for their glibc")
    for name, data in binaries:
        needed = glibc_needed(data, dist)
        if needed > limit:
            problems.append(f"{name}: needs glibc {'.'.join(map(str, needed))}, newer than {glibc}")


def check_dist(dist: Path, v: str, problems: list[str]) -> None:
    wheel = only(dist, f"keyscope-{v}-cp311-abi3-manylinux_*.whl", problems)
    if wheel:
        with zipfile.ZipFile(wheel) as z:
            meta = z.read(f"keyscope-{v}.dist-info/METADATA").decode()
        if metadata_version(meta) != v:
            problems.append(f"{wheel.name}: METADATA says {metadata_version(meta)}")
    sdist = only(dist, f"keyscope-{v}.tar.gz", problems)
    if sdist:
        got = metadata_version(tar_member(sdist, rf"keyscope-{re.escape(v)}/PKG-INFO").decode())
        if got != v:
            problems.append(f"{sdist.name}: PKG-INFO says {got}")
    npm_main = only(dist, f"keyscope-{v}.tgz", problems)
    if npm_main:
        pj = json.loads(tar_member(npm_main, r"package/package\.json"))
        if pj["version"] != v:
            problems.append(f"{npm_main.name}: package.json says {pj['version']}")
        for dep, want in pj.get("optionalDependencies", {}).items():
            if want != v:
                problems.append(f"{npm_main.name}: optional dependency {dep}@{want}")
        if not pj.get("optionalDependencies"):
            problems.append(f"{npm_main.name}: no platform package in optionalDependencies")
        for found in set(re.findall(rb"bindingPackageVersion !== '([^']+)'", tar_member(npm_main, r"package/index\.js"))):
            if found.decode() != v:
                problems.append(f"{npm_main.name}: index.js expects platform packages at {found.decode()}")
    for platform in sorted((ROOT / "node/npm").iterdir()):
        tgz = only(dist, f"keyscope-{platform.name}-{v}.tgz", problems)
        if tgz and json.loads(tar_member(tgz, r"package/package\.json"))["version"] != v:
            problems.append(f"{tgz.name}: package.json disagrees")
    c = only(dist, f"keyscope-c-{v}-*.tar.gz", problems)
    if c:
        check_header(tar_member(c, r".*/include/keyscope\.h").decode(), v, c.name, problems)
        pc = tar_member(c, r".*/lib/pkgconfig/keyscope\.pc").decode()
        m = re.search(r"^Version: (\S+)$", pc, re.M)
        if not m or m.group(1) != v:
            problems.append(f"{c.name}: keyscope.pc says {m.group(1) if m else 'nothing'}")
        so = tar_member(c, rf".*/lib/libkeyscope\.so\.{re.escape(v)}")
        dyn = inspect(so, dist, ["readelf", "-d"])
        want = f"libkeyscope.so.{soname_level(v)}"
        if f"Library soname: [{want}]" not in dyn:
            problems.append(f"{c.name}: libkeyscope.so.{v} has no SONAME {want}")
    crate = only(dist, f"keyscope-core-{v}.crate", problems)
    if crate:
        manifest = tar_member(crate, rf"keyscope-core-{re.escape(v)}/Cargo\.toml").decode()
        got = tomllib.load(io.BytesIO(manifest.encode()))["package"]["version"]
        if got != v:
            problems.append(f"{crate.name}: Cargo.toml says {got}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dist", type=Path, help="also check the artefacts in this directory")
    ap.add_argument("--glibc", help="with --dist: fail on a binary that needs a newer glibc")
    ap.add_argument("--print-version", action="store_true", help="print the version and stop")
    ap.add_argument("--print-soname-level", action="store_true", help="print the SONAME's version part")
    args = ap.parse_args()
    v = workspace_version()
    if args.print_version:
        print(v)
        return 0
    if args.print_soname_level:
        print(soname_level(v))
        return 0
    problems: list[str] = []
    check_source(v, problems)
    if args.dist:
        check_dist(args.dist, v, problems)
        if args.glibc:
            check_glibc(args.dist, v, args.glibc, problems)
    for p in problems:
        print(f"check_versions: {p}", file=sys.stderr)
    if not problems:
        print(f"every {'artefact' if args.dist else 'manifest'} says {v}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
