"""Instruction counts of the hot calls, compared with committed baselines.

`make bench-check` runs `python3 benches/icount.py check BIN` and fails when a call
costs more than 5 % over its baseline; `make bench-baseline` runs `baseline BIN` and
rewrites benches/icount-baseline.txt. BIN is the release build of benches/icount.rs.

Each op runs under `valgrind --tool=callgrind` with collection only inside
`icount_measured` (N calls after N warm-up calls), so the figure is the instructions
of one call, without the setup: the same on every run of the same binary, where
wall-clock time on a shared machine moves by 20 %. Instructions are not time (a
cache miss costs many; valgrind's CPU has no SHA extensions, so HMAC counts the
portable code), but a change in the code's work shows in them at once.
"""

import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = os.path.join(ROOT, "benches", "icount-baseline.txt")
# (op, calls counted). Enough calls that the per-call figure is exact to the unit.
OPS = [
    ("authorize", 2000),
    ("authorize_first_sight", 300),
    ("exchange_cached", 300),
    ("get_key", 300),
]
LIMIT = 0.05


def count(binary, op, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        # Without address-space randomization: glibc's memcmp and memcpy take other
        # branches for other alignments, which would move the counts by a few.
        cmd = ["setarch", "-R", "valgrind", "--tool=callgrind", "--collect-atstart=no",
               "--toggle-collect=icount_measured", f"--callgrind-out-file={out}",
               binary, op, str(n)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        with open(out) as f:
            text = f.read()
    m = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
    if not m:
        sys.exit(f"no totals in the callgrind output of {op}")
    return int(m.group(1)) / n


def read_baseline():
    base = {}
    if os.path.exists(BASELINE):
        for line in open(BASELINE):
            line = line.split("#", 1)[0].split()
            if len(line) == 2:
                base[line[0]] = int(line[1])
    return base


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check", "baseline", "show"):
        sys.exit("usage: icount.py check|baseline|show BIN")
    mode, binary = sys.argv[1], sys.argv[2]
    base = read_baseline()
    now = {op: count(binary, op, n) for op, n in OPS}
    failed = []
    print(f"{'op':<24}{'instructions':>14}{'baseline':>12}{'change':>9}")
    for op, _ in OPS:
        b = base.get(op)
        change = f"{(now[op] - b) / b * 100:+.1f} %" if b else "new"
        print(f"{op:<24}{now[op]:>14.0f}{b if b else '-':>12}{change:>9}")
        if mode == "check":
            if b is None:
                failed.append(f"{op}: no baseline (run make bench-baseline)")
            elif now[op] > b * (1 + LIMIT):
                failed.append(f"{op}: {now[op]:.0f} instructions, {LIMIT:.0%} over the baseline {b}")
            elif now[op] < b * (1 - LIMIT):
                print(f"  {op} is {LIMIT:.0%} under its baseline: run make bench-baseline to hold the gain")
    if mode == "baseline":
        with open(BASELINE, "w") as f:
            f.write("# Instructions per call under callgrind (benches/icount.py); "
                    "make bench-baseline rewrites this file.\n")
            for op, _ in OPS:
                f.write(f"{op} {round(now[op])}\n")
        print(f"wrote {os.path.relpath(BASELINE, ROOT)}")
    if failed:
        print("bench-check failed:\n  " + "\n  ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
