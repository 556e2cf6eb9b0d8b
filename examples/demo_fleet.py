"""keyscope's main job on a fleet: three hosts, three languages, one PostgreSQL database.

The same story as `make demo`, but every "host" is a separate process with its own
store handle, all on one PostgreSQL database: host 1 (Python) administers the keys,
host 2 (Node) serves the token endpoint, host 3 (C) authorizes requests. The hosts
share no file: the signing keys live in the database, and a refresh or delete made
on host 1 reaches hosts 2 and 3 through the database's notifications — the demo
measures how many milliseconds that takes. Run it with `make demo-fleet`.

It creates a fresh database (kst_demo_<random>) on the server of `--db` (default
$KEYSCOPE_TEST_DATABASE_URL) and drops it at the end.
"""

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

import keyscope
from demo import show, step

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SERVER = os.environ.get("KEYSCOPE_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def psql(server, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", server, "-c", sql], check=True,
                   env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"})


@contextlib.contextmanager
def fresh_database(server):
    name = "kst_demo_" + secrets.token_hex(5)
    psql(server, f"CREATE DATABASE {name}")
    try:
        yield urllib.parse.urlunsplit(urllib.parse.urlsplit(server)._replace(path="/" + name))
    finally:
        psql(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Host:
    """A long-running process holding its own store handle, spoken to by lines."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.read()  # "ready": the handle is open

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.proc.args[0]} stopped (exit {self.proc.wait()})")
        return line.strip()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


class NodeHost(Host):
    def call(self, **req):
        self.send(json.dumps(req))
        return json.loads(self.read())

    def token(self, key_id, secret, ip):
        return self.call(op="token", keyId=key_id, secret=secret, clientIp=ip)

    def authorize(self, token, resource, permission, ip):
        r = self.call(op="authorize", token=token, resource=resource, permission=permission, clientIp=ip)
        return f"allowed for key {r['keyName']}" if r["allowed"] else f"refused: {r['code']}"

    def watch(self, token, resource, permission, ip, timeout_ms):
        assert self.call(op="watch", token=token, resource=resource, permission=permission, clientIp=ip,
                         timeoutMs=timeout_ms) == {"watching": True}

    def refused(self):
        r = json.loads(self.read())
        return r["code"], r.get("atUs")


class CHost(Host):
    def authorize(self, token, resource, permission, ip):
        self.send(f"authorize {token} {resource} {permission} {ip}")
        return self.read()

    def watch(self, token, resource, permission, ip, timeout_ms):
        self.send(f"watch {token} {resource} {permission} {ip} {timeout_ms}")
        assert self.read() == "watching"

    def refused(self):
        parts = self.read().split()
        return (parts[1], int(parts[2])) if parts[0] == "refused" else (parts[0], None)


def revoke_and_time(change, hosts, token, ip):
    """Starts every host authorizing `token` in a loop, makes `change` on host 1, and
    prints when each host first refused the token, in ms after the change's call
    returned (its commit is a little earlier, so the true latency is a little more)."""
    for h in hosts.values():
        h.watch(token, "reports", "read", ip, 10_000)
    before = time.time()
    change()
    returned = time.time()  # the transaction committed inside the call, just before it returned
    print(f"   host 1 (Python): committed and returned ({(returned - before) * 1000:.1f} ms for the call)")
    for name, h in hosts.items():
        code, at_us = h.refused()
        if at_us is None:
            print(f"   {name}: still accepted after 10 s ({code})")
            continue
        ms = at_us / 1000 - returned * 1000
        when = f"{ms:.1f} ms after the call returned" if ms >= 0 else f"{-ms:.1f} ms before the call even returned"
        print(f"   {name}: refuses the old token {when} ({code})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=DEFAULT_SERVER, help="a PostgreSQL server URL (a fresh database is made there)")
    ap.add_argument("--node", default="node", help="the node executable")
    ap.add_argument("--c", dest="c_bin", default=os.path.join(HERE, "..", "target", "c", "fleet_host"),
                    help="the C host (examples/c/fleet_host.c)")
    args = ap.parse_args()

    with fresh_database(args.db) as db:
        name = urllib.parse.urlsplit(db).path[1:]
        print(f"keyscope {keyscope.__version__}: one PostgreSQL database ({name}), three hosts")
        print("   host 1 Python administers keys, host 2 Node serves the token endpoint, host 3 C authorizes.")
        with keyscope.KeyStore.open(db, catalog="secure_access") as store:
            node = NodeHost([args.node, os.path.join(HERE, "node", "fleet_host.js"), db])
            c = CHost([args.c_bin, db])
            try:
                story(store, node, c)
            finally:
                node.close()
                c.close()
    print(f"\nDone. The database {name} is dropped.")
    return 0


def story(store, node, c):
    now = datetime.now(timezone.utc)
    step("host 1 (Python): the administrator creates keys (each secret is shown once)")
    deployer, secret = store.create_key(
        "ci-deployer", grants=["deployments.networks:write", "reports:read"],
        networks=["64.100.10.0/24"], description="Deploys network changes from CI", actor="admin@example.com")
    print(f"   ci-deployer: id {deployer.id}, secret {secret[:8]}… (shown once, then only a hash is kept)")
    store.create_key("quarterly-report", grants=["reports:read"], expires_at=now + timedelta(days=10),
                     actor="admin@example.com")
    store.create_key("siem-export", grants=["investigate:read", "reports:read"], actor="admin@example.com")
    for key in store.list_keys().items:
        show(key)
    s = store.summary()
    print(f"   {s.total} keys: ▲ {s.expired} expired, △ {s.expiring_soon} expiring soon, {s.active} active")

    step("host 2 (Node): the CI job exchanges its key for an access token (POST /auth/v2/token)")
    answer = node.token(deployer.id, secret, "64.100.10.7")
    token = answer["body"]["access_token"]
    print(f"   {answer['status']}: token_type {answer['body']['token_type']}, expires_in "
          f"{answer['body']['expires_in']} s, scope {answer['body']['scope']!r}")

    step("host 3 (C): the service authorizes requests by token, resource, permission and address")
    for resource, permission, ip in [("deployments.networks", "write", "64.100.10.7"),
                                     ("deployments.networks", "write", "203.0.113.9"),
                                     ("policies.destinationLists", "write", "64.100.10.7")]:
        print(f"   {permission} {resource} from {ip}: {c.authorize(token, resource, permission, ip)}")
    print(f"   host 2 (Node) agrees: {node.authorize(token, 'reports', 'read', '64.100.10.7')}")

    hosts = {"host 2 (Node)": node, "host 3 (C)": c}
    step("host 1 (Python): refresh the key's secret (no grace) while hosts 2 and 3 keep authorizing its token")
    result = {}
    revoke_and_time(lambda: result.update(new=store.refresh_key(deployer.id, actor="admin@example.com")),
                    hosts, token, "64.100.10.7")
    deployer, new_secret = result["new"]
    answer = node.token(deployer.id, new_secret, "64.100.10.7")
    token = answer["body"]["access_token"]
    print(f"   host 2 (Node): a new token with the new secret ({answer['status']})")
    print(f"   host 3 (C): {c.authorize(token, 'reports', 'read', '64.100.10.7')}")

    step("host 1 (Python): delete the key: every host stops accepting its tokens")
    revoke_and_time(lambda: store.delete_key(deployer.id, actor="admin@example.com"), hosts, token, "64.100.10.7")

    step("host 1 (Python): the audit log of the key (newest first; never a secret)")
    for rec in store.audit_log(key_id=deployer.id).items:
        print(f"   {rec.at:%H:%M:%S} {rec.actor} {rec.action:<7} {rec.key_name} {rec.changes}")


if __name__ == "__main__":
    sys.exit(main())
