"""Lifecycle costs from Python (medians). Run: `make bench-python` (release build).

Prints the median time of create_key (beside the Argon2 hash it contains, measured
as a refresh), get_key, a list_keys page of 50, and summary over N keys.
"""

import argparse
import os
import statistics
import tempfile
import time

import keyscope

CHEAP = {"memory_kib": 64, "iterations": 1, "parallelism": 1}


def median_us(fn, repeat):
    samples = []
    for _ in range(repeat):
        t = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t)
    return statistics.median(samples) / 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100_000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()

    with keyscope.KeyStore.open(os.path.join(tmp, "create.db")) as s:
        n = iter(range(10**9))
        create = median_us(lambda: s.create_key(f"k{next(n)}", grants=["reports:read"]), 30)
        key, _ = s.create_key("refresh-me", grants=["reports:read"])
        refresh = median_us(lambda: s.refresh_key(key.id), 30)

    with keyscope.KeyStore.open(os.path.join(tmp, "big.db"), argon2=CHEAP) as s:
        ids = [s.create_key(f"key-{i:06}", grants=["reports:read"], description=f"key {i}")[0].id
               for i in range(args.keys)]
        it = iter(range(10**9))
        get = median_us(lambda: s.get_key(ids[(next(it) * 7919) % len(ids)]), 2000)
        page = median_us(lambda: s.list_keys(limit=50), 500)
        summary = median_us(lambda: s.summary(), 50)

    print(f"create_key (default Argon2 cost)   {create / 1000:8.2f} ms")
    print(f"refresh_key (one Argon2 hash too)  {refresh / 1000:8.2f} ms")
    print(f"get_key                            {get:8.2f} µs")
    print(f"list_keys, page of 50              {page:8.2f} µs")
    print(f"summary over {args.keys} keys        {summary / 1000:8.2f} ms")


if __name__ == "__main__":
    main()
