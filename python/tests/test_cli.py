"""The admin command line: every command, --json output and exit codes."""

import json
import subprocess
import sys

import pytest

from keyscope.cli import EXIT_CODES, main


@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KEYSCOPE_DB", str(tmp_path / "cli.db"))

    def _run(*argv):
        code = main(["--json", *argv])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    return _run


def test_create_list_show_update_refresh_delete(run, monkeypatch):
    code, created, _ = run("create", "ci", "--grant", "reports:read", "--networks", "64.100.10.7, 8.8.8.0/24",
                           "--expires", "+10d", "--actor", "alice")
    assert code == 0 and created["secret"].startswith("kss_")
    key = created["key"]
    assert key["networks"] == ["64.100.10.7", "8.8.8.0/24"]
    code, listing, _ = run("list", "--status", "expiring")
    assert code == 0 and [k["id"] for k in listing["items"]] == [key["id"]]
    assert listing["summary"]["expiring_soon"] == 1
    code, shown, _ = run("show", key["id"])
    assert shown["name"] == "ci"
    code, updated, _ = run("update", key["id"], "--description", "d", "--never-expires", "--clear-networks",
                           "--expected-version", "1")
    assert code == 0 and updated["description"] == "d" and updated["expires_at"] is None
    assert updated["networks"] == []
    code, err, _ = run("update", key["id"], "--description", "x", "--expected-version", "1")
    assert code == EXIT_CODES["conflict"]
    monkeypatch.setenv("KEYSCOPE_SECRET", created["secret"])
    code, tok, _ = run("token", key["id"])
    assert code == 0 and tok["token_type"] == "Bearer"
    code, fresh, _ = run("refresh", key["id"])
    assert code == 0 and fresh["secret"] != created["secret"]
    code, _, _ = run("token", key["id"])
    assert code == EXIT_CODES["invalid_credentials"]
    code, audit, _ = run("audit", key["id"])
    assert [r["action"] for r in audit["items"]] == ["refresh", "update", "create"]
    code, summary, _ = run("summary")
    assert summary["total"] == 1
    code, deleted, _ = run("delete", key["id"])
    assert code == 0 and deleted == {"deleted": key["id"]}
    code, _, err = run("show", key["id"])
    assert code == EXIT_CODES["not_found"]
    assert json.loads(err)["error"] == "not_found"


def test_bad_input_exits_with_its_code_and_names_the_field(run):
    code, _, err = run("create", "x", "--grant", "reports:admin")
    assert code == EXIT_CODES["invalid_input"]
    assert json.loads(err)["field"] == "grants[0]"


def test_human_output_prints_the_secret_once_with_a_warning(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "h.db"), "create", "ci", "--grant", "reports:read"]) == 0
    out, err = capsys.readouterr()
    assert "secret  kss_" in out and "never show it again" in err
    assert main(["--db", str(tmp_path / "h.db"), "list"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("1 keys  ▲ 0 expired  △ 0 expiring")


def test_python_dash_m_and_missing_db(tmp_path):
    r = subprocess.run([sys.executable, "-m", "keyscope", "summary"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and "KEYSCOPE_DB" in r.stderr
    r = subprocess.run([sys.executable, "-m", "keyscope", "--db", str(tmp_path / "m.db"), "--json", "summary"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["total"] == 0


def test_serve_runs_keyscope_server_from_path_or_says_how_to_build_it(tmp_path, monkeypatch, capsys):
    from keyscope.cli import main

    db = str(tmp_path / "k.db")
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing named keyscope-server here
    assert main(["--db", db, "serve", "--listen", "127.0.0.1:0"]) == 2
    assert "cargo build --release -p keyscope-server" in capsys.readouterr().err
    # A stand-in server on PATH receives the store and the flags as given.
    fake = tmp_path / "keyscope-server"
    fake.write_text("#!/bin/sh\necho \"$@\" > \"${0%/*}/args\"\nexit 7\n")
    fake.chmod(0o755)
    assert main(["--db", db, "--catalog", "secure_access", "serve", "--listen", "127.0.0.1:0"]) == 7
    args = (tmp_path / "args").read_text().split()
    assert args[:2] == ["--db", db]
    assert "--listen" in args and "127.0.0.1:0" in args
    assert args[-2:] == ["--catalog", "secure_access"]


def test_serve_leaves_a_store_from_the_environment_to_the_environment(tmp_path, monkeypatch):
    from keyscope.cli import main

    url = "postgresql://app:s3cret@db.internal/app"
    monkeypatch.setenv("KEYSCOPE_DB", url)
    fake = tmp_path / "keyscope-server"
    fake.write_text("#!/bin/sh\necho \"$@\" > \"${0%/*}/args\"\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["serve", "--listen", "127.0.0.1:0"]) == 0
    args = (tmp_path / "args").read_text()
    assert "s3cret" not in args and "--db" not in args
