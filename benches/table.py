"""Prints one table of authorize and issue_token from Rust, Python, Node and C beside
the peers measured in the same runs, plus Argon2 at the default cost.

Run: `make bench-table` (release builds; takes a few minutes). Each row comes from
the harness of its language, run here one after the other on an otherwise idle
machine: criterion for Rust, bench_tokens.py for Python, bench/authorize.js for Node,
bench_authorize.c for C.
"""

import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, cwd=ROOT):
    print(f"$ {' '.join(cmd)}", file=sys.stderr)
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout


def to_us(value, unit):
    return float(value) * {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]


def criterion(py):
    out = run(["cargo", "bench", "-p", "keyscope-benches", "--bench", "tokens"])
    rows = {}
    for name, mid, unit in re.findall(r"(\S+)\s*\n?\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", out):
        rows[name.split("/")[-1]] = to_us(mid, unit)
    return rows


def harness(cmd, cwd=ROOT):
    rows = {}
    for line in run(cmd, cwd).splitlines():
        m = re.match(r"(.+?)\s{2,}([\d.]+) (µs|ms)( median)?$", line.strip())
        if m:
            rows[m.group(1).strip()] = to_us(m.group(2), m.group(3))
    return rows


def fmt(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.2f} µs"


def main():
    py = sys.argv[1] if len(sys.argv) > 1 else sys.executable
    triple = os.environ.get("CARGO_BUILD_TARGET", "")
    rust = criterion(py)
    python = harness([py, "python/benches/bench_tokens.py"])
    node = harness(["node", "bench/authorize.js"], cwd=os.path.join(ROOT, "node"))
    c = harness([os.path.join(ROOT, "target", "c", "bench_authorize")])
    rows = [
        ("Rust", "keyscope `authorize` (repeat token)", rust.get("keyscope_authorize")),
        ("Rust", "keyscope `authorize` (first sight)", rust.get("keyscope_authorize_first_sight")),
        ("Rust", "keyscope `authorize` (first sight, token in cache)",
         rust.get("keyscope_authorize_first_sight_hot")),
        ("Rust", "peer: `jsonwebtoken` 11 `decode` (HS256)", rust.get("jsonwebtoken_decode")),
        ("Rust", "keyscope `issue_token` (cached secret)", rust.get("issue_token_cached")),
        ("Rust", "keyscope `issue_token` (Argon2)", rust.get("issue_token_uncached")),
        ("Rust", "Argon2id verify alone, default cost (m=19456, t=2, p=1), same harness",
         rust.get("argon2id_verify_same_pattern")),
        ("Rust", "Argon2id verify alone, back to back", rust.get("argon2id_verify")),
        ("Python", "keyscope `authorize` (repeat token)", python.get("keyscope authorize (repeat token)")),
        ("Python", "keyscope `authorize` (first sight)", python.get("keyscope authorize (first sight)")),
        ("Python", "peer: PyJWT `decode` (HS256, aud, iss)", python.get("PyJWT decode (HS256, aud, iss)")),
        ("Python", "peer: joserfc `decode` (HS256)", python.get("joserfc decode (HS256)")),
        ("Python", "keyscope `issue_token` (cached secret)", python.get("keyscope issue_token (cached secret)")),
        ("Python", "keyscope `issue_token` (Argon2)", python.get("keyscope issue_token (Argon2)")),
        ("Node", "keyscope `authorize` (repeat token)", node.get("keyscope authorize (repeat token)")),
        ("Node", "keyscope `authorize` (first sight)", node.get("keyscope authorize (first sight)")),
        ("Node", "peer: `jsonwebtoken` 9 `verify` (KeyObject secret)", node.get("jsonwebtoken.verify (KeyObject secret)")),
        ("Node", "peer: `jose` 6 `jwtVerify` (HS256)", node.get("jose jwtVerify (HS256)")),
        ("Node", "keyscope `issueToken` (cached secret; Promise)", node.get("keyscope issueToken (cached secret)")),
        ("Node", "keyscope `issueToken` (Argon2; Promise)", node.get("keyscope issueToken (Argon2)")),
        ("C", "`keyscope_store_authorize` (repeat token, incl. free)",
         c.get("keyscope_store_authorize (C, repeat token, incl. principal free)")),
        ("C", "`keyscope_store_authorize` (first sight, incl. free)",
         c.get("keyscope_store_authorize (C, first sight, incl. principal free)")),
    ]
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
          f"Rust target {triple or 'host'}; Python {platform.python_version()}; "
          f"Node {run(['node', '--version']).strip()}\n")
    print("| language | operation | median |")
    print("|---|---|---|")
    for lang, what, us in rows:
        print(f"| {lang} | {what} | {fmt(us) if us is not None else 'n/a'} |")


if __name__ == "__main__":
    main()
