"""The keyscope admin command line: ``keyscope`` (or ``python -m keyscope``).

Manages the keys of a store the way the Cisco Secure Access key list does: create
(the secret is printed once), list with the expired / expiring counts on top, show,
update, refresh, delete, summary, audit log, and a token exchange for testing.
``--json`` prints machine-readable output; errors exit with a code per error kind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence

import keyscope
from keyscope.errors import BY_CODE, KeyscopeError

#: Exit status per error code (0 is success, 2 a usage error).
EXIT_CODES: Dict[str, int] = {code: 10 + i for i, code in enumerate(BY_CODE)}

_RELATIVE = re.compile(r"^\+(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date or date-time (UTC when no offset is given), or ``+30d``."""
    m = _RELATIVE.match(text.strip())
    if m:
        return datetime.now(timezone.utc) + timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (2027-01-31, 2027-01-31T12:00:00Z or +30d)")
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _iso(dt: Optional[datetime]) -> Optional[str]:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def key_dict(k: keyscope.ApiKey) -> Dict[str, Any]:
    """A key as JSON-ready data."""
    return {
        "id": k.id, "org": k.org, "name": k.name, "description": k.description,
        "status": k.status, "enabled": k.enabled, "version": k.version,
        "expires_at": _iso(k.expires_at), "grants": k.grants, "networks": k.networks,
        "created_at": _iso(k.created_at), "updated_at": _iso(k.updated_at),
        "last_refreshed_at": _iso(k.last_refreshed_at), "last_used_at": _iso(k.last_used_at),
    }


def _table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[object]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _expiry(k: keyscope.ApiKey, soon: datetime) -> str:
    if k.expires_at is None:
        return "never"
    mark = ""
    if k.status == "expired":
        mark = " ▲"
    elif k.status == "active" and k.expires_at <= soon:
        mark = " △"
    return k.expires_at.strftime("%Y-%m-%d %H:%M") + mark


def _print_key(k: keyscope.ApiKey) -> None:
    for label, value in [
        ("id", k.id), ("name", k.name), ("org", k.org), ("description", k.description or ""),
        ("status", k.status), ("expires", _iso(k.expires_at) or "never"),
        ("grants", ", ".join(k.grants)), ("networks", ", ".join(k.networks) or "any address"),
        ("version", k.version), ("created", _iso(k.created_at)), ("updated", _iso(k.updated_at)),
        ("last refreshed", _iso(k.last_refreshed_at) or "never"), ("last used", _iso(k.last_used_at) or "never"),
    ]:
        print(f"{label:>15}  {value}")


def _networks(args: argparse.Namespace, store: keyscope.KeyStore) -> Optional[List[str]]:
    if getattr(args, "clear_networks", False):
        return []
    nets: List[str] = list(args.network or [])
    if getattr(args, "networks", None):
        nets += store.parse_networks(args.networks)
    return nets if (args.network or getattr(args, "networks", None)) else None


def cmd_create(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    key, secret = store.create_key(
        args.name, grants=args.grant, description=args.description, expires_at=args.expires,
        networks=_networks(args, store), enabled=not args.disabled, actor=args.actor)
    if args.json:
        print(json.dumps({"key": key_dict(key), "secret": secret}))
    else:
        _print_key(key)
        print(f"\n         secret  {secret}")
        print("\nSave the secret now: keyscope keeps only a hash and will never show it again.",
              file=sys.stderr)
    return 0


def cmd_list(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    within = timedelta(days=args.within)
    page = store.list_keys(status=args.status, search=args.search, limit=args.limit,
                           cursor=args.cursor, within=within)
    s = store.summary(within=within)
    if args.json:
        print(json.dumps({"summary": _summary_dict(s), "items": [key_dict(k) for k in page.items],
                          "next_cursor": page.next_cursor}))
        return 0
    print(f"{s.total} keys  ▲ {s.expired} expired  △ {s.expiring_soon} expiring within {args.within} days"
          f"  ({s.disabled} disabled, {s.never_expires} never expire)\n")
    soon = datetime.now(timezone.utc) + within
    rows = [(k.name, k.id, k.status, _expiry(k, soon), " ".join(k.grants), ", ".join(k.networks) or "any")
            for k in page.items]
    print(_table(rows, ["NAME", "ID", "STATUS", "EXPIRES", "GRANTS", "NETWORKS"]))
    if page.next_cursor:
        print(f"\nmore: --cursor {page.next_cursor}")
    return 0


def cmd_show(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    key = store.get_key(args.id)
    if args.json:
        print(json.dumps(key_dict(key)))
    else:
        _print_key(key)
    return 0


def cmd_update(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    changes: Dict[str, Any] = {}
    if args.new_name is not None:
        changes["name"] = args.new_name
    if args.clear_description:
        changes["description"] = None
    elif args.description is not None:
        changes["description"] = args.description
    if args.never_expires:
        changes["expires_at"] = None
    elif args.expires is not None:
        changes["expires_at"] = args.expires
    if args.grant:
        changes["grants"] = args.grant
    nets = _networks(args, store)
    if nets is not None:
        changes["networks"] = nets
    if args.enable or args.disable:
        changes["enabled"] = bool(args.enable)
    key = store.update_key(args.id, expected_version=args.expected_version, actor=args.actor, **changes)
    if args.json:
        print(json.dumps(key_dict(key)))
    else:
        _print_key(key)
    return 0


def cmd_refresh(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    key, secret = store.refresh_key(args.id, grace=args.grace, actor=args.actor)
    if args.json:
        print(json.dumps({"key": key_dict(key), "secret": secret}))
    else:
        print(f"new secret for {key.name} ({key.id}):\n{secret}")
        grace = f"keeps working for {args.grace} s" if args.grace else "stopped working"
        print(f"\nThe previous secret {grace}. Save the new one now: it is never shown again.",
              file=sys.stderr)
    return 0


def cmd_delete(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    store.delete_key(args.id, actor=args.actor)
    print(json.dumps({"deleted": args.id}) if args.json else f"deleted {args.id}")
    return 0


def _summary_dict(s: keyscope.Summary) -> Dict[str, int]:
    return {"total": s.total, "active": s.active, "expired": s.expired, "expiring_soon": s.expiring_soon,
            "never_expires": s.never_expires, "disabled": s.disabled}


def cmd_summary(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    s = store.summary(within=timedelta(days=args.within))
    if args.json:
        print(json.dumps(_summary_dict(s)))
    else:
        for name, value in _summary_dict(s).items():
            print(f"{name:>14}  {value}")
    return 0


def cmd_audit(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    page = store.audit_log(key_id=args.id, limit=args.limit, cursor=args.cursor)
    items = [{"at": _iso(r.at), "actor": r.actor, "action": r.action, "key_id": r.key_id,
              "key_name": r.key_name, "changes": r.changes} for r in page.items]
    if args.json:
        print(json.dumps({"items": items, "next_cursor": page.next_cursor}))
    else:
        rows = [(_iso(r.at), r.actor or "-", r.action, r.key_name, r.key_id, ", ".join(r.changes))
                for r in page.items]
        print(_table(rows, ["AT", "ACTOR", "ACTION", "KEY", "ID", "CHANGES"]))
    return 0


def cmd_token(store: keyscope.KeyStore, args: argparse.Namespace) -> int:
    secret = os.environ.get("KEYSCOPE_SECRET") or sys.stdin.readline().strip()
    tok = store.issue_token(args.id, secret, client_ip=args.client_ip, scope=args.scope)
    if args.json:
        print(json.dumps({"access_token": tok.access_token, "token_type": tok.token_type,
                          "expires_in": tok.expires_in, "scope": tok.scope}))
    else:
        print(tok.access_token)
        print(f"expires in {tok.expires_in} s; scope: {tok.scope}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``keyscope`` command."""
    codes = ", ".join(f"{c} {n}" for c, n in EXIT_CODES.items())
    p = argparse.ArgumentParser(prog="keyscope", description=__doc__.split("\n\n")[0],
                                epilog=f"exit status: 0 ok, 2 usage, {codes}")

    def global_options(parser: argparse.ArgumentParser, **defaults: Any) -> None:
        parser.add_argument("--db", default=defaults.get("db", argparse.SUPPRESS),
                            help="the store (default: $KEYSCOPE_DB)")
        parser.add_argument("--schema", default=defaults.get("schema", argparse.SUPPRESS),
                            help="PostgreSQL only: the schema of keyscope's tables (default \"keyscope\")")
        parser.add_argument("--org", default=defaults.get("org", argparse.SUPPRESS),
                            help="work in this organization (default: \"default\")")
        parser.add_argument("--catalog", default=defaults.get("catalog", argparse.SUPPRESS),
                            help="check grants against a catalog (\"secure_access\")")
        parser.add_argument("--allow-private-networks", action="store_true",
                            default=defaults.get("allow_private_networks", argparse.SUPPRESS),
                            help="accept networks that are not globally reachable")
        parser.add_argument("--json", action="store_true", default=defaults.get("json", argparse.SUPPRESS),
                            help="print JSON for scripts")

    # The global options are accepted before the subcommand and after it
    # (`keyscope --json list` and `keyscope list --json`); after it, they are only set
    # when given, so they never undo one given before.
    global_options(p, db=os.environ.get("KEYSCOPE_DB"), schema=None, org=None, catalog=None,
                   allow_private_networks=False, json=False)
    common = argparse.ArgumentParser(add_help=False)
    global_options(common)
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, parents=[common])

    def key_fields(sp: argparse.ArgumentParser, update: bool) -> None:
        sp.add_argument("--description", help="free text")
        sp.add_argument("--expires", type=parse_instant, help="2027-01-31, 2027-01-31T12:00Z or +90d")
        sp.add_argument("--grant", action="append", help="scope[.resource]:read|write (repeat)",
                        required=not update)
        sp.add_argument("--network", action="append", help="address or CIDR (repeat)")
        sp.add_argument("--networks", help="comma-separated addresses or CIDRs")
        sp.add_argument("--actor", help="who makes the change (audit log)")

    c = command("create", help="create a key (prints its secret once)")
    c.add_argument("name")
    key_fields(c, update=False)
    c.add_argument("--disabled", action="store_true", help="create it disabled")
    c.set_defaults(func=cmd_create)

    ls = command("list", help="list keys, with the expired / expiring counts on top")
    ls.add_argument("--status", default="all", choices=["all", "active", "expired", "expiring", "disabled"])
    ls.add_argument("--search")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--cursor")
    ls.add_argument("--within", type=int, default=30, help="days counted as expiring soon")
    ls.set_defaults(func=cmd_list)

    sh = command("show", help="show one key")
    sh.add_argument("id")
    sh.set_defaults(func=cmd_show)

    u = command("update", help="change a key (only the options given)")
    u.add_argument("id")
    u.add_argument("--name", dest="new_name")
    key_fields(u, update=True)
    u.add_argument("--clear-description", action="store_true")
    u.add_argument("--never-expires", action="store_true")
    u.add_argument("--clear-networks", action="store_true", help="usable from any address")
    g = u.add_mutually_exclusive_group()
    g.add_argument("--enable", action="store_true")
    g.add_argument("--disable", action="store_true", help="revokes outstanding tokens for good")
    u.add_argument("--expected-version", type=int)
    u.set_defaults(func=cmd_update)

    r = command("refresh", help="issue a new secret for the same key id")
    r.add_argument("id")
    r.add_argument("--grace", type=int, default=0, help="seconds the old secret keeps working (≤ 604800)")
    r.add_argument("--actor")
    r.set_defaults(func=cmd_refresh)

    d = command("delete", help="delete a key and revoke its tokens")
    d.add_argument("id")
    d.add_argument("--actor")
    d.set_defaults(func=cmd_delete)

    sm = command("summary", help="the counts behind the key list")
    sm.add_argument("--within", type=int, default=30, help="days counted as expiring soon")
    sm.set_defaults(func=cmd_summary)

    a = command("audit", help="the audit log, newest first")
    a.add_argument("id", nargs="?")
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--cursor")
    a.set_defaults(func=cmd_audit)

    t = command("token", help="exchange a key for an access token (secret from $KEYSCOPE_SECRET or stdin)")
    t.add_argument("id")
    t.add_argument("--client-ip")
    t.add_argument("--scope")
    t.set_defaults(func=cmd_token)

    m = sub.add_parser("migrate", help="copy a store into an empty one (SQLite <-> PostgreSQL), then verify it",
                       parents=[common])
    m.add_argument("source", help="SQLite path or postgresql:// URL")
    m.add_argument("dest", help="SQLite path or postgresql:// URL (must hold no keys)")
    m.add_argument("--source-schema", help="PostgreSQL schema of the source (default \"keyscope\")")
    m.add_argument("--dest-schema", help="PostgreSQL schema of the destination (default \"keyscope\")")
    m.set_defaults(func=None)

    sv = sub.add_parser("serve", help="run keyscope-server (from PATH) on this store; "
                        "the other arguments are the server's flags (keyscope serve -- --help)",
                        parents=[common])
    sv.set_defaults(func=None, server_args=[])
    return p


def run_serve(args: argparse.Namespace) -> int:
    """``keyscope serve …``: runs ``keyscope-server`` from PATH with the same flags (the
    store from --db / $KEYSCOPE_DB, --schema and --catalog passed on), or says how to
    build it and returns 2."""
    exe = shutil.which("keyscope-server")
    if exe is None:
        print("keyscope: keyscope-server is not on PATH; build it with "
              "`cargo build --release -p keyscope-server` and put target/<triple>/release on "
              "PATH (or install it next to this command)", file=sys.stderr)
        return 2
    flags = [a for a in args.server_args if a != "--"]
    # A store from $KEYSCOPE_DB reaches the server through the environment it inherits
    # (a URL there may hold a password, which a flag would show in `ps`).
    if args.db and args.db != os.environ.get("KEYSCOPE_DB") and "--db" not in flags:
        flags = ["--db", args.db, *flags]
    if args.schema and "--schema" not in flags:
        flags += ["--schema", args.schema]
    if args.catalog and "--catalog" not in flags:
        flags += ["--catalog", args.catalog]
    if args.allow_private_networks and "--allow-private-networks" not in flags:
        flags.append("--allow-private-networks")
    sys.stdout.flush()
    return subprocess.call([exe, *flags])


def run_migrate(args: argparse.Namespace) -> int:
    """``keyscope migrate SOURCE DEST``: copies, verifies, and says what it copied."""
    report = keyscope.migrate(args.source, args.dest, source_schema=args.source_schema,
                              dest_schema=args.dest_schema)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"copied {report['keys']} keys, {report['audit_records']} audit records and "
              f"{report['signing_keys']} signing keys; the copy was verified")
        if report["signing_keys"] == 0:
            print("note: the source keeps no signing keys of its own: give the destination's processes "
                  "the same signing_keys option or KEYSCOPE_SIGNING_KEYS", file=sys.stderr)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "serve" in argv:
        # Everything after `serve` belongs to keyscope-server, flags included.
        at = argv.index("serve")
        args = build_parser().parse_args(argv[: at + 1])
        args.server_args = argv[at + 1:]
        return run_serve(args)
    args = build_parser().parse_args(argv)
    if args.command == "migrate":
        try:
            return run_migrate(args)
        except KeyscopeError as e:
            return report_error(e, args.json)
    if not args.db:
        print("keyscope: no store: pass --db or set KEYSCOPE_DB", file=sys.stderr)
        return 2
    options: Dict[str, Any] = {}
    if args.catalog:
        options["catalog"] = args.catalog
    if args.allow_private_networks:
        options["allow_private_networks"] = True
    if args.schema:
        options["schema"] = args.schema
    try:
        with keyscope.KeyStore.open(args.db, **options) as store:
            view = store.org(args.org) if args.org else store
            return int(args.func(view, args))
    except KeyscopeError as e:
        return report_error(e, args.json)


def report_error(e: KeyscopeError, as_json: bool) -> int:
    """Prints an error and returns its exit status."""
    if as_json:
        print(json.dumps({"error": e.code, "message": e.message, "field": e.field}), file=sys.stderr)
    else:
        print(f"keyscope: {e.code}: {e.message}", file=sys.stderr)
    return EXIT_CODES.get(e.code, 1)


if __name__ == "__main__":
    sys.exit(main())
