"""Packs the npm packages a release publishes, napi-rs style: `keyscope` (JavaScript,
types, no native code, no install script) and `keyscope-linux-x64-gnu` (the prebuilt
addon), which `keyscope` names in `optionalDependencies` so that npm installs only
the one for the user's platform.

    python3 packaging/npm_pack.py ADDON.node OUT_DIR

Each package is staged under target/npm/ (node/package.json without its development
fields, plus the README and licences) and packed there with `npm pack`.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "target" / "npm"
LICENCES = ["LICENSE-APACHE", "LICENSE-MIT"]


def pack(directory: Path, out: Path) -> str:
    r = subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(out)],
                       cwd=directory, check=True, capture_output=True, text=True)
    return r.stdout.strip().splitlines()[-1]


def main() -> int:
    addon, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(STAGE, ignore_errors=True)
    main_pkg = json.loads((ROOT / "node/package.json").read_text())
    platforms = sorted(p for p in (ROOT / "node/npm").iterdir() if p.is_dir())

    for platform in platforms:
        meta = json.loads((platform / "package.json").read_text())
        stage = STAGE / meta["name"]
        stage.mkdir(parents=True)
        for f in ["package.json", "README.md"]:
            shutil.copy(platform / f, stage / f)
        for f in LICENCES:
            shutil.copy(ROOT / f, stage / f)
        (binary,) = meta["files"]
        shutil.copy(addon, stage / binary)
        meta["files"] = [binary, *LICENCES]
        (stage / "package.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(f"npm: {pack(stage, out)}")

    stage = STAGE / main_pkg["name"]
    stage.mkdir(parents=True)
    for f in main_pkg["files"]:
        shutil.copy(ROOT / "node" / f, stage / f)
    shutil.copy(ROOT / "node/README.md", stage / "README.md")
    for f in LICENCES:
        shutil.copy(ROOT / f, stage / f)
    published = {k: v for k, v in main_pkg.items() if k not in ("scripts", "devDependencies", "napi")}
    published["files"] = main_pkg["files"] + LICENCES
    published["optionalDependencies"] = {
        json.loads((p / "package.json").read_text())["name"]: main_pkg["version"] for p in platforms
    }
    (stage / "package.json").write_text(json.dumps(published, indent=2) + "\n")
    print(f"npm: {pack(stage, out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
