"""keyscope's main job, end to end, on the embedded SQLite default.

An administrator issues and manages API keys the way Cisco Secure Access shows them:
create (the secret is shown once), list with the expired/expiring counts, update,
refresh, delete, and read the audit log; a client exchanges its key for a token at the
token endpoint and the service authorizes requests with it. Run it with `make demo`.
"""

import base64
import json
import os
import sys
import tempfile
from datetime import datetime, timedelta, timezone

import keyscope


def step(title):
    print(f"\n== {title}")


def show(key):
    expiry = key.expires_at.strftime("%Y-%m-%d") if key.expires_at else "never"
    nets = ", ".join(key.networks) or "any address"
    print(f"   {key.name:<18} {key.status:<8} expires {expiry:<10} v{key.version}  "
          f"grants {' '.join(key.grants)}  from {nets}")


def main():
    workdir = tempfile.mkdtemp(prefix="keyscope-demo-")
    path = os.path.join(workdir, "keys.db")
    now = datetime.now(timezone.utc)
    print(f"keyscope {keyscope.__version__}: store {path}")

    with keyscope.KeyStore.open(path, catalog="secure_access") as store:
        step("Create three keys (each secret is shown once: save it now)")
        deployer, secret = store.create_key(
            "ci-deployer", grants=["deployments.networks:write", "reports:read"],
            networks=["64.100.10.0/24"], description="Deploys network changes from CI",
            actor="admin@example.com")
        print(f"   id {deployer.id}\n   secret {secret[:8]}… (53 characters)")
        store.create_key("quarterly-report", grants=["reports:read"],
                         expires_at=now + timedelta(days=10), actor="admin@example.com")
        store.create_key("siem-export", grants=["investigate:read", "reports:read"],
                         actor="admin@example.com")
        for key in store.list_keys().items:
            show(key)

        step("A bad request is refused with a clear error, and nothing is stored")
        try:
            store.create_key("typo", grants=["deployments.regions:write"])
        except keyscope.InvalidInput as e:
            print(f"   {e.code}: {e}")
        try:
            store.create_key("home", grants=["reports:read"], networks=["64.100.10.5/24"])
        except keyscope.InvalidInput as e:
            print(f"   {e.code}: {e}")

        step("The key list's triangles: expired and expiring within 30 days")
        s = store.summary()
        print(f"   {s.total} keys: {s.active} active, {s.expired} expired, "
              f"{s.expiring_soon} expiring soon, {s.never_expires} never expire, {s.disabled} disabled")
        for key in store.list_keys(status="expiring").items:
            show(key)

        step("Update: narrow the deployer to one address, with optimistic locking")
        deployer = store.update_key(deployer.id, networks=["64.100.10.0/28"],
                                    expected_version=deployer.version, actor="admin@example.com")
        show(deployer)
        try:
            store.update_key(deployer.id, description="stale edit", expected_version=1)
        except keyscope.Conflict as e:
            print(f"   {e.code}: {e}")

        step("A client exchanges key id + secret for an access token (OAuth client credentials)")
        basic = "Basic " + base64.b64encode(f"{deployer.id}:{secret}".encode()).decode()
        status, headers, body = store.token_endpoint(
            basic, "application/x-www-form-urlencoded", b"grant_type=client_credentials", "64.100.10.7")
        answer = json.loads(body)
        token = answer["access_token"]
        print(f"   POST /auth/v2/token -> {status}, expires_in {answer['expires_in']} s, "
              f"scope {answer['scope']!r}, token {token[:16]}…")

        step("The service authorizes requests by token, resource, permission and address")
        p = store.authorize(token, "deployments.networks", "write", client_ip="64.100.10.7")
        print(f"   write deployments.networks from 64.100.10.7: allowed for {p.key_name!r}")
        for resource, permission, ip in [("deployments.networks", "write", "203.0.113.9"),
                                         ("policies.destinationLists", "write", "64.100.10.7")]:
            try:
                store.authorize(token, resource, permission, client_ip=ip)
            except keyscope.KeyscopeError as e:
                print(f"   {permission} {resource} from {ip}: refused, {e.code}")

        step("Refresh: a new secret for the same key id, the old one valid for 1 hour more")
        deployer, new_secret = store.refresh_key(deployer.id, grace=timedelta(hours=1),
                                                 actor="admin@example.com")
        print(f"   new secret {new_secret[:8]}…; last refreshed {deployer.last_refreshed_at:%H:%M:%S} UTC")
        show(deployer)
        store.authorize(token, "reports", "read", client_ip="64.100.10.7")
        print("   the old token still works during the grace")
        deployer, new_secret = store.refresh_key(deployer.id, actor="admin@example.com")
        try:
            store.authorize(token, "reports", "read", client_ip="64.100.10.7")
        except keyscope.TokenRevoked as e:
            print(f"   refreshed again without grace: the old token is refused, {e.code}")
        token = store.issue_token(deployer.id, new_secret, client_ip="64.100.10.7").access_token

        step("Organizations: a view limited to org 'acme' sees none of the default org's keys")
        acme = store.org("acme")
        acme.create_key("acme-reader", grants=["reports:read"])
        print(f"   acme: {acme.summary().total} key; default: {store.summary().total} keys")
        try:
            acme.get_key(deployer.id)
        except keyscope.NotFound as e:
            print(f"   {e.code}: {e}")

        step("Delete, then read the audit log (newest first; never a secret)")
        store.delete_key(deployer.id, actor="admin@example.com")
        try:
            store.authorize(token, "reports", "read", client_ip="64.100.10.7")
        except keyscope.TokenRevoked as e:
            print(f"   the deleted key's token is refused, {e.code}")
        for rec in store.audit_log(key_id=deployer.id).items:
            print(f"   {rec.at:%H:%M:%S} {rec.actor} {rec.action:<7} {rec.key_name} {rec.changes}")

    print(f"\nDone. The store is an ordinary SQLite file: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
