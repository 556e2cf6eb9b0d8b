'use strict';
// One store, two languages: a key created by the Python package is exchanged and
// authorized from Node on the same file, and a refresh made from Python revokes the
// token Node holds. KEYSCOPE_PYTHON names a Python with keyscope installed (`make
// test` sets it); otherwise the repository's .venv is tried, and without a Python
// that has keyscope the test is skipped, saying why.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { KeyStore } = require('..');
const { tmpDb, CHEAP } = require('./helpers');

function findPython() {
  const candidates = [process.env.KEYSCOPE_PYTHON, path.join(__dirname, '..', '..', '.venv', 'bin', 'python')];
  for (const c of candidates.filter(Boolean)) {
    try { execFileSync(c, ['-c', 'import keyscope'], { stdio: 'ignore' }); return c; } catch { /* next */ }
  }
  if (process.env.KEYSCOPE_PYTHON) throw new Error(`KEYSCOPE_PYTHON=${process.env.KEYSCOPE_PYTHON} cannot import keyscope`);
  return null;
}

const python = findPython();

function py(code, db) {
  return execFileSync(python, ['-c', code, db], { encoding: 'utf8' }).trim();
}

test('a key made in Python works from Node, and a Python refresh revokes it',
  { skip: python ? false : 'no Python with the keyscope package (make test provides one)' }, async () => {
  const db = tmpDb();
  const created = JSON.parse(py(`
import json, sys, keyscope
with keyscope.KeyStore.open(sys.argv[1], argon2={"memory_kib": 64, "iterations": 1, "parallelism": 1}) as s:
    k, secret = s.create_key("from-python", grants=["reports:read"], networks=["64.100.10.0/24"])
    print(json.dumps({"id": k.id, "secret": secret}))
`, db));
  const store = KeyStore.open(db, { argon2: CHEAP, revocationStaleness: 0 });
  const tok = await store.issueToken(created.id, created.secret, { clientIp: '64.100.10.7' });
  const p = store.authorize(tok.accessToken, 'reports', 'read', { clientIp: '64.100.10.7' });
  assert.equal(p.keyName, 'from-python');
  py(`
import sys, keyscope
with keyscope.KeyStore.open(sys.argv[1]) as s:
    s.refresh_key("${created.id}")
`, db);
  assert.throws(() => store.authorize(tok.accessToken, 'reports', 'read', { clientIp: '64.100.10.7' }),
    (e) => e.code === 'KEYSCOPE_TOKEN_REVOKED');
});
