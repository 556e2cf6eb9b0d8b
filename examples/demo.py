"""keyscope's main job, end to end, across three languages on one SQLite store.

An administrator manages keys from Python the way Cisco Secure Access shows them; a
Node app exchanges a key for an access token at the token endpoint; a C service
authorizes requests with that token. Every process opens the same store file (and so
shares the signing keys kept in it). Any other service can verify the tokens from the
store's JWK Set, and a signing-key rotation never breaks a live token. Run it with
`make demo`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone

import keyscope

HERE = os.path.dirname(os.path.abspath(__file__))


def step(title):
    print(f"\n== {title}")


def show(key):
    expiry = key.expires_at.strftime("%Y-%m-%d") if key.expires_at else "never"
    nets = ", ".join(key.networks) or "any address"
    print(f"   {key.name:<17} {key.status:<8} expires {expiry:<10} v{key.version}  "
          f"grants {' '.join(key.grants)}  from {nets}")


def node_token(node, db, key_id, secret, ip):
    out = subprocess.run([node, os.path.join(HERE, "node", "token_client.js"), db, key_id, ip],
                         input=secret, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def c_authorize(c_bin, db, token, resource, permission, ip):
    r = subprocess.run([c_bin, db, token, resource, permission, ip], capture_output=True, text=True)
    return r.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", default="node", help="the node executable")
    ap.add_argument("--c", dest="c_bin", default=os.path.join(HERE, "..", "target", "authorize"),
                    help="the C example (make example-c)")
    args = ap.parse_args()

    db = os.path.join(tempfile.mkdtemp(prefix="keyscope-demo-"), "keys.db")
    now = datetime.now(timezone.utc)
    print(f"keyscope {keyscope.__version__}: one store, {db}")
    print("   Python administers it, Node exchanges tokens, C authorizes requests.")

    with keyscope.KeyStore.open(db, catalog="secure_access") as store:
        step("Python: the administrator creates keys (each secret is shown once)")
        deployer, secret = store.create_key(
            "ci-deployer", grants=["deployments.networks:write", "reports:read"],
            networks=["64.100.10.0/24"], description="Deploys network changes from CI",
            actor="admin@example.com")
        print(f"   ci-deployer: id {deployer.id}, secret {secret[:8]}… (shown once, then only a hash is kept)")
        store.create_key("quarterly-report", grants=["reports:read"], expires_at=now + timedelta(days=10),
                         actor="admin@example.com")
        store.create_key("siem-export", grants=["investigate:read", "reports:read"], actor="admin@example.com")
        store.create_key("old-integration", grants=["reports:read"], expires_at=now - timedelta(days=3),
                         now=now - timedelta(days=40), actor="admin@example.com")
        for key in store.list_keys().items:
            show(key)

        step("Python: the key list's counts (red ▲ expired, yellow △ expiring within 30 days)")
        s = store.summary()
        print(f"   {s.total} keys: ▲ {s.expired} expired, △ {s.expiring_soon} expiring soon, "
              f"{s.active} active, {s.never_expires} never expire, {s.disabled} disabled")

        step("Python: a bad request is refused with a clear error, and nothing is stored")
        for grants, nets in [(["deployments.regions:write"], None), (["reports:read"], ["64.100.10.5/24"])]:
            try:
                store.create_key("typo", grants=grants, networks=nets)
            except keyscope.InvalidInput as e:
                print(f"   {e.code}: {e}")

    step("Node: the CI job exchanges its key for an access token (POST /auth/v2/token)")
    answer = node_token(args.node, db, deployer.id, secret, "64.100.10.7")
    token = answer["body"]["access_token"]
    print(f"   {answer['status']}: token_type {answer['body']['token_type']}, expires_in "
          f"{answer['body']['expires_in']} s, scope {answer['body']['scope']!r}")
    print(f"   token {token[:24]}…")

    step("C: the service authorizes requests by token, resource, permission and address")
    for resource, permission, ip in [("deployments.networks", "write", "64.100.10.7"),
                                     ("deployments.networks", "write", "203.0.113.9"),
                                     ("policies.destinationLists", "write", "64.100.10.7")]:
        print(f"   {permission} {resource} from {ip}: {c_authorize(args.c_bin, db, token, resource, permission, ip)}")

    with keyscope.KeyStore.open(db) as store:
        step("Python: refresh the key's secret (no grace): the old token is revoked")
        deployer, new_secret = store.refresh_key(deployer.id, actor="admin@example.com")
    print(f"   C: {c_authorize(args.c_bin, db, token, 'reports', 'read', '64.100.10.7')}")
    answer = node_token(args.node, db, deployer.id, new_secret, "64.100.10.7")
    token = answer["body"]["access_token"]
    print(f"   Node: a new token with the new secret ({answer['status']})")
    print(f"   C: {c_authorize(args.c_bin, db, token, 'reports', 'read', '64.100.10.7')}")

    with keyscope.KeyStore.open(db) as store:
        step("Python: the JWK Set any JOSE library verifies with, then a signing-key rotation")
        status, _, body = store.handle_http("GET", "/.well-known/jwks.json", [], b"")
        keys = json.loads(body)["keys"]
        print(f"   GET /.well-known/jwks.json: {status}, "
              + ", ".join(f"{k['kid']} ({k['alg']})" for k in keys))
        now_signing = store.rotate_signing_key(actor="admin@example.com")
        print(f"   rotated: {now_signing.kid} signs now; it was published before it signed")
    print(f"   C, the token signed before the rotation: "
          f"{c_authorize(args.c_bin, db, token, 'reports', 'read', '64.100.10.7')}")

    with keyscope.KeyStore.open(db) as store:
        step("Python: delete the key: every token issued for it stops working")
        store.delete_key(deployer.id, actor="admin@example.com")
    print(f"   C: {c_authorize(args.c_bin, db, token, 'reports', 'read', '64.100.10.7')}")

    with keyscope.KeyStore.open(db) as store:
        step("Python: the audit log of the key (newest first; never a secret)")
        for rec in store.audit_log(key_id=deployer.id).items:
            print(f"   {rec.at:%H:%M:%S} {rec.actor} {rec.action:<7} {rec.key_name} {rec.changes}")

    print(f"\nDone. The store is an ordinary SQLite file: {db}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
