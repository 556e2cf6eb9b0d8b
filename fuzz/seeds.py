#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/seeds/<target>/) from the shared
vectors in core/tests/vectors/*.json, plus a few inputs in each target's own format.
Run by `make fuzz-short`; the seeds are regenerated, not committed."""

import hashlib
import json
import pathlib
import shutil

HERE = pathlib.Path(__file__).resolve().parent
VECTORS = HERE.parent / "core" / "tests" / "vectors"
OUT = HERE / "seeds"


def load(name):
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def main():
    seeds = {t: [] for t in ("token_decode", "secret", "grants", "networks",
                             "token_endpoint", "client_address", "cursor",
                             "handle_http")}
    tokens = load("tokens")
    for case in tokens["cases"]:
        seeds["token_decode"].append(case["token"].encode())
    # The harness's own tokens with a few bytes replaced: index, then (position, byte).
    for i in range(4):
        seeds["token_decode"].append(b"@" + bytes([i]))
        seeds["token_decode"].append(b"@" + bytes([i, 40, ord("A"), 200, ord("x")]))

    secrets = load("secrets")
    for s in secrets["valid"] + secrets["invalid"]:
        seeds["secret"].append(b"\x00" + s.encode())

    grants = load("grants")
    valid = grants["valid"]
    for g in valid + grants["invalid"]:
        seeds["grants"].append(g.encode())
    seeds["grants"].append((" ".join(valid[:3]) + "\n" + "\n".join(valid)).encode())
    seeds["grants"].append(b"deployments:write reports:read\ndeployments.networks:read\nreports:write")

    networks = load("networks")
    inputs = [n["input"] for n in networks["valid"]] + networks["invalid"]
    for n in inputs:
        seeds["networks"].append(b"\x00" + n.encode())
        seeds["networks"].append(b"\x01" + n.encode())
    seeds["networks"].append(b"\x00" + ", ".join(n["input"] for n in networks["valid"][:4]).encode())
    seeds["networks"].append(b"\x01" + b"10.0.0.0/8, ::ffff:10.0.0.1, fe80::/10")

    body = b"grant_type=client_credentials"
    secret = secrets["valid"][0].encode()
    seeds["token_endpoint"] += [
        b"B:@ID@:@SECRET@\n" + body,
        b"B:@ID@:@SECRET@\n" + body + b"&scope=reports%3Aread",
        b"\n" + body + b"&client_id=@ID@&client_secret=@SECRET@",
        b"\n" + body + b"&client_id=@ID@&client_secret=" + secret,
        b"R:Basic !!!\n" + body,
        b"B:a%20b:s%3Ac\n" + body,
        b"\ngrant_type=password",
        b"\na=1&a=2",
        b"\nclient_secret=kss_TOPSECRET%zz",
    ]

    seeds["client_address"] += [
        b"10.0.0.1\n1.2.3.4, 5.6.7.8, 10.0.0.2",
        b"10.0.0.1\n1.2.3.4\n5.6.7.8",
        b"10.0.0.1\n10.0.0.3, 10.0.0.2",
        b"::ffff:10.0.0.1\n1.2.3.4, junk, 10.0.0.2",
        b"64.100.10.7\n2001:db8::1, 8.8.8.8",
        b"8.8.8.8\n1.2.3.4",
    ]
    for n in inputs:
        seeds["client_address"].append(b"10.0.0.1\n" + n.encode())

    for f in range(15):
        seeds["cursor"].append(bytes([f, 1, ord("@"), 0]))
        seeds["cursor"].append(bytes([f, 2, ord("@"), 2, 3, ord("A")]))
    seeds["cursor"].append(bytes([0, 1]) + b"djE6MzoxMjM0NTY3OA")
    seeds["cursor"].append(bytes([0, 1]) + b"garbage")

    form = "Content-Type: application/x-www-form-urlencoded"
    admin = "Authorization: Bearer @ADMIN@\nContent-Type: application/json"
    seeds["handle_http"] += [s.encode() for s in [
        "GET /healthz\n\n",
        "GET /.well-known/jwks.json?x=1\n\n",
        "DELETE /.well-known/jwks.json\n\n",
        f"POST /auth/v2/token\nAuthorization: @BASIC@\n{form}\n\ngrant_type=client_credentials",
        f"POST /auth/v2/token\n{form}\nX-Forwarded-For: 1.2.3.4\n\n"
        "grant_type=client_credentials&client_id=@ID@&client_secret=@SECRET@",
        f"POST /auth/v2/introspect\nAuthorization: @BASIC@\n{form}\n\n"
        "token=@TOKEN@&resource=reports&permission=read&client_ip=64.100.10.7",
        f"POST /auth/v2/revoke\nAuthorization: @BASIC@\n{form}\n\ntoken=@ADMIN@",
        f"GET /admin/v2/apiKeys?offset=0&limit=2&status=active&search=cl\n{admin}\n\n",
        f"POST /admin/v2/apiKeys\n{admin}\n\n"
        '{"name": "n", "scopes": ["reports:read"], "expireAt": "", "allowedIPs": ["64.100.10.0/24"]}',
        f"PATCH /admin/v2/apiKeys/@ID@\n{admin}\nIf-Match: \"1\"\n\n"
        '{"description": "", "enabled": false, "scopes": ["reports:write"]}',
        f"POST /admin/v2/apiKeys/@ID@/refresh\n{admin}\n\n" '{"grace": 60}',
        f"DELETE /admin/v2/apiKeys/@ID@\n{admin}\nIf-Match: *\n\n",
        f"GET /admin/v2/catalog\n{admin}\n\n",
        "POST /admin/v2/apiKeys\nAuthorization: Bearer @TOKEN@\nContent-Type: text/plain\n\n{",
        # Text the Key Admin API returns as written (a bad query value, a description):
        # the harness sends that API a look-alike for @SECRET@, so the client's secret
        # never comes back from it. The token route gets the real secret and must never
        # quote it, however badly it is encoded.
        f"GET /admin/v2/apiKeys?status=@SECRET@\n{admin}\n\n",
        f"POST /admin/v2/apiKeys\n{admin}\n\n"
        '{"name": "s", "description": "@SECRET@", "scopes": ["reports:read"]}',
        f"POST /auth/v2/token\n{form}\n\n"
        "grant_type=client_credentials&client_id=@ID@&client_secret=@SECRET@%zz",
    ]]

    if OUT.exists():
        shutil.rmtree(OUT)
    for target, items in seeds.items():
        d = OUT / target
        d.mkdir(parents=True)
        for item in items:
            (d / hashlib.sha1(item).hexdigest()).write_bytes(item)
    print(f"seeds: {sum(map(len, seeds.values()))} inputs for {len(seeds)} targets in {OUT}")


if __name__ == "__main__":
    main()
