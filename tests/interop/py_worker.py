"""Interop worker in Python, one process with its own store handle (a "host").

Creates keys pyw-0.., takes part in the contested-name round of <dir>/work.json, and
authorizes the tokens in a loop, logging "<start ms>\t<token index>\t<code>" per call
to <dir>/pyw.log (contest results to <dir>/pyw.contest.json).

Usage: py_worker.py <store> <dir> <seconds>
"""

import json
import os
import sys
import time

import keyscope

CHEAP = {"memory_kib": 64, "iterations": 1, "parallelism": 1}


def now_ms():
    return int(time.time() * 1000)


def main():
    db, work_dir, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with open(os.path.join(work_dir, "work.json")) as f:
        work = json.load(f)
    tokens, creates, contest = work["tokens"], work["creates"], work["contest"]
    lines = []
    with keyscope.KeyStore.open(db, argon2=CHEAP) as s:
        end = time.time() + seconds
        created = 0
        i = 0
        while time.time() < end:
            if contest and now_ms() >= contest["at"] - 50:
                while now_ms() < contest["at"]:
                    time.sleep(0.001)
                results = []
                for name in contest["names"]:
                    try:
                        k, _ = s.create_key(name, grants=["reports:read"])
                        results.append({"name": name, "code": "ok", "id": k.id})
                    except keyscope.KeyscopeError as e:
                        results.append({"name": name, "code": e.code, "id": None})
                with open(os.path.join(work_dir, "pyw.contest.json"), "w") as f:
                    json.dump(results, f)
                contest = None
            if created < creates and i % 50 == 0:
                s.create_key(f"pyw-{created}", grants=["reports:read"])
                created += 1
            t = i % len(tokens)
            start = now_ms()
            try:
                s.authorize(tokens[t], "reports", "read")
                code = "ok"
            except keyscope.KeyscopeError as e:
                code = e.code
            lines.append(f"{start}\t{t}\t{code}")
            if i % 20 == 19:
                time.sleep(0.001)
            i += 1
        while created < creates:
            s.create_key(f"pyw-{created}", grants=["reports:read"])
            created += 1
    with open(os.path.join(work_dir, "pyw.log"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if contest:
        print("py_worker: the run ended before the contested-name round", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
