"""Many processes on one SQLite file: no lost write, one winner per name."""

import multiprocessing as mp

import keyscope
from conftest import CHEAP

PROCS = 4
PER_PROC = 15


def create_many(path, worker):
    with keyscope.KeyStore.open(path, argon2=CHEAP) as s:
        for i in range(PER_PROC):
            s.create_key(f"w{worker}-{i}", grants=["reports:read"])


def race_one_name(path, barrier, results):
    with keyscope.KeyStore.open(path, argon2=CHEAP) as s:
        barrier.wait(timeout=60)
        try:
            s.create_key("contested", grants=["reports:read"])
            results.put("created")
        except keyscope.Conflict:
            results.put("conflict")


def test_processes_creating_keys_lose_nothing(db_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=create_many, args=(db_path, w)) for w in range(PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with keyscope.KeyStore.open(db_path, argon2=CHEAP) as s:
        assert s.summary().total == PROCS * PER_PROC
        names = set()
        page = s.list_keys(limit=1000)
        names.update(k.name for k in page.items)
        assert len(names) == PROCS * PER_PROC


def test_processes_racing_for_one_name_yield_one_key(db_path):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(PROCS)
    results = ctx.Queue()
    procs = [ctx.Process(target=race_one_name, args=(db_path, barrier, results)) for _ in range(PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    outcomes = sorted(results.get(timeout=5) for _ in range(PROCS))
    assert outcomes == ["conflict"] * (PROCS - 1) + ["created"]
    with keyscope.KeyStore.open(db_path, argon2=CHEAP) as s:
        assert [k.name for k in s.list_keys().items] == ["contested"]
