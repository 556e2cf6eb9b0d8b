"""Interop under load: Python, Node and C processes on one store at once.

Four processes, each with its own handle (a "host"): this driver (Python) refreshes
keys and creates keys, a Python worker creates keys, Node deletes keys and creates
keys, C disables keys and creates keys; the three workers authorize a set of tokens the
whole time. At one agreed instant all four try to create the same contested names.

Checks:
- no write is lost: every key created is there, every disable, refresh and delete took;
- exactly one winner per contested name: one process gets the key, every other one
  gets `conflict`, and the store holds that name once, with the winner's id;
- no process accepts a token of a disabled, refreshed or deleted key later than
  `revocation_staleness` (1 s, the default) after the change committed, and each
  refusal has the right code (`key_disabled`, `token_revoked`).

The store is a temporary SQLite file, or with `--db URL` a fresh PostgreSQL database
made on that server (`CREATE DATABASE kst_interop_<random>`) and dropped afterwards.

Usage: run.py <node executable> <c_worker executable> [seconds] [--db postgresql://...]
"""

import argparse
import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse

import keyscope

CHEAP = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
KEYS = 24  # a third refreshed by Python, a third disabled by C, a third deleted by Node
CREATES = 40  # per process
CONTESTED = 30  # names every process tries to create at the same instant
STALENESS_MS = 1000  # revocation_staleness: the default, 1 s
MARGIN_MS = 100  # scheduling slack between a call's logged start and its check
HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED_CODE = {"refresh": "token_revoked", "disable": "key_disabled", "delete": "token_revoked"}


def now_ms():
    return int(time.time() * 1000)


def psql(server_url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server_url, "-c", sql], check=True,
                   env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"})


@contextlib.contextmanager
def fresh_database(server_url, prefix):
    """A new database on the server of `server_url`, dropped on the way out."""
    name = f"{prefix}_{secrets.token_hex(5)}"
    psql(server_url, f"CREATE DATABASE {name}")
    try:
        yield urllib.parse.urlunsplit(urllib.parse.urlsplit(server_url)._replace(path="/" + name))
    finally:
        psql(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def contest(s, names):
    results = []
    for name in names:
        try:
            k, _ = s.create_key(name, grants=["reports:read"])
            results.append({"name": name, "code": "ok", "id": k.id})
        except keyscope.KeyscopeError as e:
            results.append({"name": name, "code": e.code, "id": None})
    return results


def all_keys(s):
    keys, cursor = [], None
    while True:
        page = s.list_keys(limit=1000, cursor=cursor)
        keys += page.items
        cursor = page.next_cursor
        if not cursor:
            return keys


def run(db, node, c_worker, seconds, tmp):
    with keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        keys = [s.create_key(f"shared-{i}", grants=["reports:read"]) for i in range(KEYS)]
        tokens = [s.issue_token(k.id, secret).access_token for k, secret in keys]
    ids = [k.id for k, _ in keys]
    third = KEYS // 3
    refresh_ids, disable_ids, delete_ids = ids[:third], ids[third:2 * third], ids[2 * third:]
    names = [f"contested-{i}" for i in range(CONTESTED)]
    contest_at = now_ms() + max(1500, int(seconds * 400))
    with open(os.path.join(tmp, "tokens.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(tmp, "c_disables.txt"), "w") as f:
        f.write("\n".join(disable_ids) + "\n")
    with open(os.path.join(tmp, "contest.txt"), "w") as f:
        f.write("\n".join([str(contest_at)] + names) + "\n")
    with open(os.path.join(tmp, "work.json"), "w") as f:
        json.dump({"tokens": tokens, "deletes": delete_ids, "creates": CREATES,
                   "contest": {"at": contest_at, "names": names}}, f)

    procs = {
        "C": subprocess.Popen([c_worker, "load", db, tmp, str(seconds), str(CREATES)]),
        "Node": subprocess.Popen([node, os.path.join(HERE, "node_worker.js"), "load", db, tmp, str(seconds)]),
        "Python": subprocess.Popen([sys.executable, os.path.join(HERE, "py_worker.py"), db, tmp, str(seconds)]),
    }
    events = []
    contests = {}
    with keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        start = time.time()
        pending = list(refresh_ids)
        created = 0
        while time.time() - start < seconds:
            if "driver" not in contests and now_ms() >= contest_at - 50:
                while now_ms() < contest_at:
                    time.sleep(0.001)
                contests["driver"] = contest(s, names)
            if pending and random.random() < 0.05:
                key_id = pending.pop()
                s.refresh_key(key_id)
                events.append({"at": now_ms(), "action": "refresh", "id": key_id})
            if created < CREATES:
                s.create_key(f"py-{created}", grants=["reports:read"])
                created += 1
            time.sleep(0.02)
        for key_id in pending:
            s.refresh_key(key_id)
            events.append({"at": now_ms(), "action": "refresh", "id": key_id})
        while created < CREATES:
            s.create_key(f"py-{created}", grants=["reports:read"])
            created += 1
    problems = []
    for name, p in procs.items():
        rc = p.wait(timeout=120)
        if rc != 0:
            problems.append(f"the {name} worker exited with {rc}")
    if problems:
        return problems, None

    with open(os.path.join(tmp, "node.events.json")) as f:
        events += json.load(f)
    with open(os.path.join(tmp, "c.events")) as f:
        events += [{"id": i, "at": int(at), "action": "disable"} for i, at in (line.split("\t") for line in f)]
    revoked = {e["id"]: e for e in events}

    # Revocation: nothing accepted past the bound, the right refusal, and a bound that
    # was actually exercised by every authorizing process.
    stats = {}
    for name, log in [("C", "c.log"), ("Node", "node.log"), ("Python", "pyw.log")]:
        checked = after_bound = late = 0
        first_refusal, last_ok = {}, {}
        with open(os.path.join(tmp, log)) as f:
            for line in f:
                start_ms, idx, code = line.rstrip("\n").split("\t")
                start_ms, key_id = int(start_ms), ids[int(idx)]
                checked += 1
                e = revoked.get(key_id)
                if e is None:
                    if code != "ok":
                        problems.append(f"{name}: {code} for the token of {key_id}, which was never revoked")
                    continue
                if code == "ok":
                    last_ok[key_id] = start_ms - e["at"]
                if start_ms > e["at"] + STALENESS_MS + MARGIN_MS:
                    after_bound += 1
                    if code == "ok":
                        late += 1
                        problems.append(f"{name}: token of {key_id} accepted {start_ms - e['at']} ms after "
                                        f"its {e['action']} committed")
                if code != "ok":
                    if code != EXPECTED_CODE[e["action"]]:
                        problems.append(f"{name}: {code} for a token after {e['action']} "
                                        f"(expected {EXPECTED_CODE[e['action']]})")
                    first_refusal.setdefault(key_id, start_ms)
        if after_bound == 0:
            problems.append(f"{name}: no authorization after any revocation's bound: the check saw nothing")
        lat = sorted(max(0, t - revoked[k]["at"]) for k, t in first_refusal.items())
        stats[name] = (checked, after_bound, lat, max(last_ok.values(), default=0))

    # Contested names: exactly one winner each, every other attempt a conflict.
    with open(os.path.join(tmp, "pyw.contest.json")) as f:
        contests["Python worker"] = json.load(f)
    with open(os.path.join(tmp, "node.contest.json")) as f:
        contests["Node"] = json.load(f)
    with open(os.path.join(tmp, "c.contest")) as f:
        contests["C"] = [dict(zip(("name", "code", "id"), line.rstrip("\n").split("\t"))) for line in f]
    winners = {}
    for who, results in contests.items():
        if [r["name"] for r in results] != names:
            problems.append(f"contest: {who} did not try every contested name")
        for r in results:
            if r["code"] == "ok":
                winners.setdefault(r["name"], []).append((who, r["id"]))
            elif r["code"] != "conflict":
                problems.append(f"contest: {who} got {r['code']} for {r['name']} (expected ok or conflict)")
    wins_by = {}
    for n in names:
        w = winners.get(n, [])
        if len(w) != 1:
            problems.append(f"contest: {n} has {len(w)} winners {w}")
        for who, _ in w:
            wins_by[who] = wins_by.get(who, 0) + 1

    # No lost write: the store holds exactly what every process wrote.
    with keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        stored = all_keys(s)
    by_name = {}
    for k in stored:
        by_name.setdefault(k.name, []).append(k)
    expected = {f"shared-{ids.index(i)}" for i in ids if i not in delete_ids} | set(names)
    for prefix in ("py", "pyw", "node", "c"):
        expected |= {f"{prefix}-{i}" for i in range(CREATES)}
    missing, extra = expected - by_name.keys(), by_name.keys() - expected
    dup = [n for n, ks in by_name.items() if len(ks) > 1]
    if missing or extra or dup:
        problems.append(f"store: missing {sorted(missing)}, unexpected {sorted(extra)}, duplicated {dup}")
    by_id = {k.id: k for k in stored}
    for key_id in refresh_ids:
        k = by_id.get(key_id)
        if k is None or k.last_refreshed_at is None:
            problems.append(f"store: the refresh of {key_id} was lost")
    for key_id in disable_ids:
        k = by_id.get(key_id)
        if k is None or k.enabled:
            problems.append(f"store: the disable of {key_id} was lost")
    for key_id in delete_ids:
        if key_id in by_id:
            problems.append(f"store: the delete of {key_id} was lost")
    for n in names:
        w = winners.get(n, [])
        if len(w) == 1 and len(by_name.get(n, [])) == 1 and by_name[n][0].id != w[0][1]:
            problems.append(f"store: {n} belongs to {by_name[n][0].id}, not to the winner's {w[0][1]}")

    summary = {"stats": stats, "events": len(events), "keys": len(stored), "expected": len(expected),
               "wins": wins_by, "attempts": sum(len(r) for r in contests.values())}
    return problems, summary


def pct(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("node")
    ap.add_argument("c_worker")
    ap.add_argument("seconds", nargs="?", type=int, default=5)
    ap.add_argument("--db", metavar="URL", help="a PostgreSQL server URL: run on a fresh database there")
    args = ap.parse_args()
    if args.seconds < 3:
        ap.error("seconds: at least 3 (the contested names are tried after 1.5 s)")
    tmp = tempfile.mkdtemp(prefix="keyscope-interop-")
    with contextlib.ExitStack() as stack:
        if args.db:
            db = stack.enter_context(fresh_database(args.db, "kst_interop"))
            where = f"PostgreSQL ({urllib.parse.urlsplit(db).path[1:]})"
        else:
            db = os.path.join(tmp, "keys.db")
            where = "SQLite"
        print(f"interop on {where}: 4 processes (Python x2, Node, C) for {args.seconds} s")
        problems, summary = run(db, args.node, args.c_worker, args.seconds, tmp)
    if summary:
        for name, (checked, after_bound, lat, last) in summary["stats"].items():
            print(f"   {name:<6}: {checked} authorizations, {after_bound} past a revocation's bound; first refusal "
                  f"after commit p50 {pct(lat, .5)} ms, max {pct(lat, 1)} ms; latest acceptance {last} ms after")
        print(f"   {summary['events']} revocations (refresh, disable, delete); {summary['keys']} keys "
              f"(expected {summary['expected']}); contest: {CONTESTED} names, {summary['attempts']} attempts, "
              f"wins {summary['wins']}")
    if problems:
        for p in problems[:50]:
            print(f"   {p}")
        print(f"FAILED on {where}: {len(problems)} problems")
        return 1
    print(f"interop ok on {where}: no lost write, one winner per contested name, "
          "no token accepted beyond revocation_staleness")
    return 0


if __name__ == "__main__":
    sys.exit(main())
