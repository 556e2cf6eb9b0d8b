"""check_versions.py fails, naming the file, when any manifest disagrees with the
workspace version, and passes on the tree as it is.

    python3 -m unittest packaging/test_check_versions.py      (make lint runs it)
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "packaging" / "check_versions.py"
FILES = ["Cargo.toml", "python/pyproject.toml", "node/package.json", "node/index.js",
         "include/keyscope.h", *(f"{c}/Cargo.toml" for c in
                                 ["core", "bindings/python", "bindings/node", "bindings/c", "server", "benches"])]


class CheckVersions(unittest.TestCase):
    def setUp(self) -> None:
        self.tree = Path(tempfile.mkdtemp(prefix="keyscope-versions-"))
        self.addCleanup(shutil.rmtree, self.tree)
        for f in FILES + [str(p.relative_to(ROOT)) for p in (ROOT / "node/npm").glob("*/package.json")]:
            (self.tree / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / f, self.tree / f)

    def run_check(self) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KEYSCOPE_ROOT=str(self.tree))
        return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True)

    def edit(self, path: str, old: str, new: str) -> None:
        f = self.tree / path
        text = f.read_text()
        self.assertIn(old, text, path)
        f.write_text(text.replace(old, new, 1))

    def test_the_tree_agrees(self) -> None:
        r = self.run_check()
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_each_disagreement_fails_naming_its_file(self) -> None:
        v = re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)
        cases = [
            ("node/package.json", f'"version": "{v}"', '"version": "9.9.9"'),
            ("node/npm/linux-x64-gnu/package.json", f'"version": "{v}"', '"version": "9.9.9"'),
            ("node/index.js", f"bindingPackageVersion !== '{v}'", "bindingPackageVersion !== '9.9.9'"),
            ("include/keyscope.h", f'#define KEYSCOPE_VERSION "{v}"', '#define KEYSCOPE_VERSION "9.9.9"'),
            ("include/keyscope.h", "#define KEYSCOPE_VERSION_MINOR ", "#define KEYSCOPE_VERSION_MINOR 9"),
            ("core/Cargo.toml", "version.workspace = true", 'version = "9.9.9"'),
            ("python/pyproject.toml", 'dynamic = ["version"]', f'version = "{v}"'),
        ]
        for path, old, new in cases:
            with self.subTest(path=path, new=new):
                self.setUp()
                self.edit(path, old, new)
                r = self.run_check()
                self.assertEqual(r.returncode, 1, f"{path}: {r.stdout}")
                self.assertIn(path, r.stderr)


if __name__ == "__main__":
    unittest.main()
