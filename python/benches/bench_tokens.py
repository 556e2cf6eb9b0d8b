"""authorize and issue_token from Python beside PyJWT, in one run (medians).

Run: `make bench-python` (release build). PyJWT and joserfc are optional peers.
`--db postgresql://…` (with `--schema`, a fresh one) runs the same calls on PostgreSQL.
"""

import argparse
import statistics
import time

import keyscope

SECRET = b"k" * 32
IP = "64.100.10.7"


def median_ns(fn, n=20000, rounds=7):
    best = []
    for _ in range(rounds):
        t = time.perf_counter_ns()
        for _ in range(n):
            fn()
        best.append((time.perf_counter_ns() - t) / n)
    return statistics.median(best)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=":memory:", help="store location (default :memory:)")
    ap.add_argument("--schema", help="PostgreSQL schema (give a fresh one)")
    args = ap.parse_args()
    extra = {"schema": args.schema} if args.schema else {}
    print(f"store: {args.db.split('@')[-1]}" + (f" schema {args.schema}" if args.schema else ""))
    with keyscope.KeyStore.open(args.db, signing_keys=[("k1", SECRET)], **extra) as s:
        key, secret = s.create_key("bench", grants=["deployments.networks:write", "reports:read", "policies:read"],
                                   networks=["64.100.10.0/24", "2001:4860::/32", "8.8.8.0/24"])
        tok = s.issue_token(key.id, secret, IP).access_token
        rows = [("keyscope authorize (repeat token)",
                 median_ns(lambda: s.authorize(tok, "deployments.networks", "write", IP)))]
        fresh = [s.issue_token(key.id, secret, IP).access_token for _ in range(10000)]
        it = iter(range(10**9))
        rows.append(("keyscope authorize (first sight)",
                     median_ns(lambda: s.authorize(fresh[next(it) % 10000], "deployments.networks", "write", IP),
                               n=10000)))
        rows.append(("keyscope issue_token (cached secret)",
                     median_ns(lambda: s.issue_token(key.id, secret, IP), n=2000)))

        def uncached():
            s.clear_caches()
            s.issue_token(key.id, secret, IP)
        rows.append(("keyscope issue_token (Argon2)", median_ns(uncached, n=20, rounds=5)))
    try:
        import jwt
        rows.append(("PyJWT decode (HS256, aud, iss)", median_ns(
            lambda: jwt.decode(tok, SECRET, algorithms=["HS256"], audience="keyscope", issuer="keyscope"),
            n=5000)))
    except ImportError:
        pass
    try:
        from joserfc import jwt as jjwt
        from joserfc.jwk import OctKey
        okey = OctKey.import_key(SECRET)
        rows.append(("joserfc decode (HS256)", median_ns(lambda: jjwt.decode(tok, okey), n=5000)))
    except ImportError:
        pass
    for name, ns in rows:
        unit = f"{ns / 1e6:9.2f} ms" if ns > 1e5 else f"{ns / 1000:9.2f} µs"
        print(f"{name:<40}{unit}")


if __name__ == "__main__":
    main()
