"""Commit-to-refusal latency on another process, on PostgreSQL.

This process (Python, one handle) revokes keys one at a time — refresh, disable and
delete in turn, 20–60 ms apart — while a C process and a Node process (each with its
own handle, default options: LISTEN on, revocation_staleness 1 s) authorize every
token still accepted, over and over, and note when each token is first refused.
The latency of one revocation on one watcher is the time from the return of the
revoking call (its transaction committed just before) to that first refusal; an upper
bound, from the call's start, is shown too, and the call's own duration. Goal: p50 <= 50 ms, max <= revocation_staleness.

It makes a fresh database (kst_bench_<random>) on the server of --db (default
$KEYSCOPE_TEST_DATABASE_URL) and drops it afterwards. A benchmark, run by hand:

    make bench-revocation
    # or: .venv/bin/python benches/revocation_latency.py --node node \
    #         --c-worker target/c/interop_worker --count 300
"""

import argparse
import contextlib
import os
import random
import secrets
import subprocess
import sys
import time
import urllib.parse

import keyscope

CHEAP = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
STALENESS_MS = 1000  # revocation_staleness: the default
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPECTED = {"refresh": "token_revoked", "disable": "key_disabled", "delete": "token_revoked"}


def psql(server, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server, "-c", sql], check=True,
                   env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"})


@contextlib.contextmanager
def fresh_database(server):
    name = "kst_bench_" + secrets.token_hex(5)
    psql(server, f"CREATE DATABASE {name}")
    try:
        yield urllib.parse.urlunsplit(urllib.parse.urlsplit(server)._replace(path="/" + name))
    finally:
        psql(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description="commit-to-refusal latency on other processes (PostgreSQL)")
    ap.add_argument("--db", default=os.environ.get("KEYSCOPE_TEST_DATABASE_URL")
                    or "postgresql://postgres@127.0.0.1:5432/postgres", help="a PostgreSQL server URL")
    ap.add_argument("--count", type=int, default=300, help="revocations (at least 200)")
    ap.add_argument("--node", default="node")
    ap.add_argument("--c-worker", default=os.path.join(ROOT, "target", "c", "interop_worker"))
    args = ap.parse_args()
    if args.count < 200:
        ap.error("--count: at least 200 revocations")
    tmp = os.path.join(ROOT, "target", "bench-revocation")
    os.makedirs(tmp, exist_ok=True)
    tokens_file = os.path.join(tmp, "tokens.txt")

    with fresh_database(args.db) as db, keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        keys = [s.create_key(f"bench-{i}", grants=["reports:read"]) for i in range(args.count)]
        with open(tokens_file, "w") as f:
            f.write("\n".join(s.issue_token(k.id, secret).access_token for k, secret in keys) + "\n")
        budget = str(args.count // 10 + 30)  # seconds a watcher may run
        watchers = {
            "C": [args.c_worker, "watch", db, tokens_file, budget, os.path.join(tmp, "c.out")],
            "Node": [args.node, os.path.join(ROOT, "tests", "interop", "node_worker.js"), "watch", db,
                     tokens_file, budget, os.path.join(tmp, "node.out")],
        }
        procs = {n: subprocess.Popen(a, stdout=subprocess.PIPE, text=True) for n, a in watchers.items()}
        for n, p in procs.items():
            assert p.stdout.readline().strip() == "ready", f"the {n} watcher did not start"
        time.sleep(0.5)  # let every watcher's listener settle

        order = list(range(args.count))
        random.shuffle(order)
        revoked = {}  # token index -> (action, call start, call end), seconds
        for n, i in enumerate(order):
            action = ("refresh", "disable", "delete")[n % 3]
            key_id = keys[i][0].id
            t0 = time.time()
            if action == "refresh":
                s.refresh_key(key_id)
            elif action == "disable":
                s.update_key(key_id, enabled=False)
            else:
                s.delete_key(key_id)
            revoked[i] = (action, t0, time.time())
            time.sleep(random.uniform(0.02, 0.06))
        for n, p in procs.items():
            if p.wait(timeout=int(budget) + 30) != 0:
                print(f"the {n} watcher failed", file=sys.stderr)
                return 1

    print(f"commit-to-refusal on another process, PostgreSQL, {args.count} revocations "
          f"(refresh, disable, delete in turn, 20-60 ms apart), revocation_staleness {STALENESS_MS} ms")
    calls = [(end - start) * 1000 for _, start, end in revoked.values()]
    print(f"   the revoking call itself (Python, commit inside): p50 {pct(calls, .5):.1f} ms, "
          f"max {max(calls):.1f} ms")
    failed = False
    everything, uppers = [], []
    for n in watchers:
        lat, upper, wrong = [], [], 0
        with open(os.path.join(tmp, f"{n.lower()}.out")) as f:
            for line in f:
                idx, at_us, code = line.split()
                action, start, end = revoked[int(idx)]
                wrong += code != EXPECTED[action]
                lat.append(int(at_us) / 1000 - end * 1000)
                upper.append(int(at_us) / 1000 - start * 1000)
        uppers += upper
        missing = args.count - len(lat)
        everything += lat
        print(f"   {n:<4} watcher: p50 {pct(lat, .5):6.1f} ms   p99 {pct(lat, .99):6.1f} ms   "
              f"max {max(lat):6.1f} ms   ({len(lat)} refusals, {missing} never refused, {wrong} wrong codes)")
        failed |= bool(missing or wrong)
    p50, top = pct(everything, .5), max(everything)
    print(f"   both     : p50 {p50:6.1f} ms   p99 {pct(everything, .99):6.1f} ms   max {top:6.1f} ms")
    print(f"   upper bound, from the revoking call's start (includes the call): p50 {pct(uppers, .5):.1f} ms, "
          f"p99 {pct(uppers, .99):.1f} ms, max {max(uppers):.1f} ms")
    print(f"   goal p50 <= 50 ms: {'met' if p50 <= 50 else 'MISSED'}; max <= {STALENESS_MS} ms: "
          f"{'met' if top <= STALENESS_MS else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
