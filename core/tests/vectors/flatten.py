"""Flattens the shared JSON vectors into tab-separated lines for the C suite, which
has no JSON parser: `python3 flatten.py > vectors.tsv` (the test command does it).

Fields are escaped: backslash, tab, newline and other control characters as \\\\, \\t,
\\n and \\xHH; everything else is written as UTF-8.
"""

import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def esc(s: str) -> str:
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def load(name):
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def main():
    w = sys.stdout.write
    for kind, file in [("name", "names.json"), ("grant", "grants.json")]:
        v = load(file)
        for s in v["valid"]:
            w(f"{kind}\tvalid\t{esc(s)}\n")
        for s in v["invalid"]:
            w(f"{kind}\tinvalid\t{esc(s)}\n")
    v = load("networks.json")
    for c in v["valid"]:
        w(f"network\tvalid\t{esc(c['input'])}\t{esc(c['canonical'])}\n")
    for s in v["invalid"]:
        w(f"network\tinvalid\t{esc(s)}\n")
    v = load("secrets.json")
    for s in v["valid"]:
        w(f"secret\tvalid\t{esc(s)}\t{v['prefix']}\n")
    for s in v["invalid"]:
        w(f"secret\tinvalid\t{esc(s)}\t{v['prefix']}\n")
    v = load("tokens.json")
    w(f"token-setup\t{v['kid']}\t{v['secret_hex']}\t{v['now']}\t{v['resource']}\t{v['permission']}\n")
    for c in v["cases"]:
        w(f"token\t{c['expect']}\t{esc(c['token'])}\n")


if __name__ == "__main__":
    main()
