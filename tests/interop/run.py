"""Interop under load: Python, Node and C processes on one store at once.

Python refreshes keys and creates keys, Node deletes keys and creates keys, C creates
keys; Node and C authorize a set of tokens the whole time. Checks that no write is
lost, and that no token of a refreshed or deleted key is accepted later than
`revocation_staleness` (1 s) after the change committed.

Usage: run.py <node executable> <c_worker executable> [seconds]
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import time

import keyscope

CHEAP = {"memory_kib": 64, "iterations": 1, "parallelism": 1}
KEYS = 20
CREATES = 40
STALENESS_MS = 1000
MARGIN_MS = 100  # scheduling slack between a call's logged start and its check


def main():
    node, c_worker = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    here = os.path.dirname(os.path.abspath(__file__))
    tmp = tempfile.mkdtemp(prefix="keyscope-interop-")
    db = os.path.join(tmp, "keys.db")

    with keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        keys = [s.create_key(f"shared-{i}", grants=["reports:read"])[0:2] for i in range(KEYS)]
        tokens = [s.issue_token(k.id, secret).access_token for k, secret in keys]
    ids = [k.id for k, _ in keys]
    with open(os.path.join(tmp, "tokens.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    refresh_ids, delete_ids = ids[: KEYS // 2], ids[KEYS // 2:]
    with open(os.path.join(tmp, "work.json"), "w") as f:
        json.dump({"tokens": tokens, "deletes": delete_ids, "creates": CREATES}, f)

    c_log, node_log = os.path.join(tmp, "c.log"), os.path.join(tmp, "node.log")
    procs = [
        subprocess.Popen([c_worker, db, os.path.join(tmp, "tokens.txt"), str(seconds), str(CREATES), c_log]),
        subprocess.Popen([node, os.path.join(here, "node_worker.js"), db, os.path.join(tmp, "work.json"),
                          str(seconds), node_log]),
    ]
    events = []
    with keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        start = time.time()
        pending = list(refresh_ids)
        created = 0
        while time.time() - start < seconds:
            if pending and random.random() < 0.05:
                key_id = pending.pop()
                s.refresh_key(key_id)
                events.append({"at": int(time.time() * 1000), "action": "refresh", "id": key_id})
            if created < CREATES:
                s.create_key(f"py-{created}", grants=["reports:read"])
                created += 1
            time.sleep(0.02)
        for key_id in pending:
            s.refresh_key(key_id)
            events.append({"at": int(time.time() * 1000), "action": "refresh", "id": key_id})
        while created < CREATES:
            s.create_key(f"py-{created}", grants=["reports:read"])
            created += 1
    for p in procs:
        assert p.wait(timeout=120) == 0, f"worker {p.args[0]} failed"

    with open(node_log + ".events.json") as f:
        events += json.load(f)
    revoked_at = {e["id"]: e["at"] for e in events}
    failures, checked, late = 0, 0, 0
    for name, log in [("C", c_log), ("Node", node_log)]:
        with open(log) as f:
            for line in f:
                start_ms, idx, code = line.split("\t")
                key_id = ids[int(idx)]
                checked += 1
                t = revoked_at.get(key_id)
                if code.strip() == "ok" and t is not None and int(start_ms) > t + STALENESS_MS + MARGIN_MS:
                    late += 1
                    print(f"{name}: token of {key_id} accepted {int(start_ms) - t} ms after its revocation")
                if code.strip() not in ("ok", "token_revoked"):
                    failures += 1
                    print(f"{name}: unexpected {code.strip()}")
    with keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        names = []
        page = s.list_keys(limit=1000)
        names += [k.name for k in page.items]
        expected = KEYS - len(delete_ids) + 3 * CREATES
        lost = expected - len(names)
    print(f"interop: {checked} authorizations by C and Node, {len(events)} revocations, "
          f"{len(names)} keys (expected {expected})")
    if late or failures or lost:
        print(f"FAILED: {late} late acceptances, {failures} unexpected errors, {lost} lost writes")
        return 1
    print("interop ok: no lost write, no token accepted beyond revocation_staleness")
    return 0


if __name__ == "__main__":
    sys.exit(main())
