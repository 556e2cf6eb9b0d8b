"""Writes the shared test vectors (run from this folder: python3 generate.py).

Every language's suite replays these files through its public API, so Rust, Python,
Node and C agree by construction. The secrets and tokens are computed here with the
standard library only (zlib CRC-32, HMAC-SHA256), independently of keyscope.
"""

import base64
import hashlib
import hmac
import json
import zlib

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOW = 1_800_000_000
SIGNING_SECRET = bytes(range(32))
KID = "vec1"
KEY_ID = "0123456789abcdef0123456789abcdef"


def checksum(random_part: str) -> str:
    n = zlib.crc32(random_part.encode())
    out = ""
    for _ in range(6):
        out = ALPHABET[n % 62] + out
        n //= 62
    return out


def secret(random_part: str, prefix: str = "kss") -> str:
    return f"{prefix}_{random_part}{checksum(random_part)}"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(header: dict, claims: dict, key: bytes = SIGNING_SECRET, raw_claims: str = None) -> str:
    h = b64(json.dumps(header, separators=(",", ":")).encode())
    c = b64((raw_claims if raw_claims is not None else json.dumps(claims, separators=(",", ":"))).encode())
    sig = hmac.new(key, f"{h}.{c}".encode(), hashlib.sha256).digest()
    return f"{h}.{c}.{b64(sig)}"


def write(name, data):
    with open(name, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


R1 = "A" * 43
R2 = "0123456789abcdefghijABCDEFGHIJklmnopqrstuvw"

write("names.json", {
    "about": "Key names (docs/keys.md): 1–255 scalar values, no Cc/Cf, no leading/trailing whitespace.",
    "valid": ["ci", "CI deployer", "é" * 255, "🔑" * 255, "a-b_c.d", "日本語のキー"],
    "invalid": ["", " ", " lead", "trail ", "tab\there", "new\nline", "bidi\u202eoverride", "zero\u200bwidth",
                "bom\ufeff", "é" * 256, "🔑" * 256, "x" * 1000],
})
write("grants.json", {
    "about": "Grants (docs/grants-and-networks.md): scope:permission or scope.resource:permission.",
    "valid": ["reports:read", "reports:write", "deployments.networks:write", "policies.destinationLists:read",
              "a:read", "A-b_c.D9:write", "a" * 64 + ":read"],
    "invalid": ["", "reports", "reports:", ":read", "reports:admin", "reports:READ", "1reports:read",
                "a.b.c:read", "reports.:read", "re ports:read", "a" * 65 + ":read", "é:read", "reports:read "],
})
write("networks.json", {
    "about": "Networks (docs/grants-and-networks.md) with allow_private_networks false: input and canonical form.",
    "valid": [
        {"input": "64.100.10.7", "canonical": "64.100.10.7"},
        {"input": "64.100.10.7/32", "canonical": "64.100.10.7"},
        {"input": "64.100.10.0/24", "canonical": "64.100.10.0/24"},
        {"input": "2001:4860::/32", "canonical": "2001:4860::/32"},
        {"input": "2001:4860:0:0::/32", "canonical": "2001:4860::/32"},
        {"input": "2001:4860::1/128", "canonical": "2001:4860::1"},
        {"input": "8.8.8.8", "canonical": "8.8.8.8"},
    ],
    "invalid": ["64.100.10.5/24", "64.100.10.0/33", "2001:db8::/129", "fe80::1%eth0", "064.100.10.7",
                "64.100.10.07", "64.100.10", "host", "", " 64.100.10.7", "64.100.10.0/024", "10.0.0.0/8",
                "192.168.1.1", "127.0.0.1", "::1", "fc00::/7", "0.0.0.0/0", "224.0.0.1", "100.64.0.1"],
})
write("secrets.json", {
    "about": "Secret form (docs/keys.md) with prefix kss: kss_ + 43 base62 + 6-char base62 CRC-32.",
    "prefix": "kss",
    "valid": [secret(R1), secret(R2), secret("z" * 43)],
    "invalid": [
        "", "kss_", secret(R1)[:-1], secret(R1) + "0", secret(R1, "abc"), secret(R1).replace("kss_", "kss-"),
        "kss_" + R1 + "000000", secret(R2)[:10] + ("B" if secret(R2)[10] != "B" else "C") + secret(R2)[11:],
        "kss_" + "!" * 49, secret(R1).upper(),
    ],
})
base_claims = {"iss": "keyscope", "aud": "keyscope", "sub": KEY_ID, "client_id": KEY_ID, "org": "default",
               "iat": NOW - 60, "exp": NOW + 3540, "jti": "vector", "scope": "reports:read", "gen": 1}
hdr = {"alg": "HS256", "typ": "at+jwt", "kid": KID}
good = token(hdr, base_claims)
parts = good.split(".")
cases = [
    {"why": "valid signature, key not in the store", "token": good, "expect": "token_revoked"},
    {"why": "flipped signature", "token": parts[0] + "." + parts[1] + "." + ("A" if parts[2][0] != "A" else "B") + parts[2][1:],
     "expect": "invalid_token"},
    {"why": "alg none", "token": token({"alg": "none", "typ": "at+jwt", "kid": KID}, base_claims), "expect": "invalid_token"},
    {"why": "alg HS512", "token": token({"alg": "HS512", "typ": "at+jwt", "kid": KID}, base_claims), "expect": "invalid_token"},
    {"why": "unknown kid", "token": token({"alg": "HS256", "typ": "at+jwt", "kid": "other"}, base_claims), "expect": "invalid_token"},
    {"why": "missing kid", "token": token({"alg": "HS256", "typ": "at+jwt"}, base_claims), "expect": "invalid_token"},
    {"why": "another signing key", "token": token(hdr, base_claims, key=b"x" * 32), "expect": "invalid_token"},
    {"why": "exp as a string", "token": token(hdr, dict(base_claims, exp=str(NOW + 3540))), "expect": "invalid_token"},
    {"why": "duplicate claim", "token": token(hdr, None, raw_claims=json.dumps(base_claims, separators=(",", ":"))[:-1] + ',"org":"acme"}'),
     "expect": "invalid_token"},
    {"why": "unknown claim", "token": token(hdr, dict(base_claims, extra=True)), "expect": "invalid_token"},
    {"why": "other issuer", "token": token(hdr, dict(base_claims, iss="other")), "expect": "invalid_token"},
    {"why": "other audience", "token": token(hdr, dict(base_claims, aud="other")), "expect": "invalid_token"},
    {"why": "expired (exp = now)", "token": token(hdr, dict(base_claims, exp=NOW)), "expect": "token_expired"},
    {"why": "issued in the future", "token": token(hdr, dict(base_claims, iat=NOW + 10)), "expect": "invalid_token"},
    {"why": "padding", "token": good + "=", "expect": "invalid_token"},
    {"why": "two parts", "token": parts[0] + "." + parts[1], "expect": "invalid_token"},
    {"why": "over 8 KiB", "token": "a" * 9000, "expect": "invalid_token"},
]
write("tokens.json", {
    "about": "Access tokens (docs/tokens.md, docs/authorization.md) checked by authorize(token, 'reports', 'read') at `now` against an "
             "empty store whose only signing key is (kid, secret_hex).",
    "kid": KID, "secret_hex": SIGNING_SECRET.hex(), "now": NOW, "resource": "reports", "permission": "read",
    "cases": cases,
})
