'use strict';
// A PostgreSQL store from Node (docs/storage.md): a URL opens it exactly as a path
// does, every handle shares it, the PostgreSQL-only options are checked, and a bad
// URL or login never shows its password. Always runs on PostgreSQL (the server at
// KEYSCOPE_TEST_DATABASE_URL; see helpers.js).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const { KeyStore } = require('..');
const { CHEAP, SIGNING } = require('./helpers');

const PG_URL = process.env.KEYSCOPE_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/test';
const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };

function freshDatabase(t) {
  const name = `kst_${crypto.randomBytes(6).toString('hex')}`;
  const psql = (sql) => execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', PG_URL, '-c', sql],
    { stdio: 'pipe', env: { ...process.env, PGOPTIONS: '--client-min-messages=warning' } });
  psql(`CREATE DATABASE ${name}`);
  t.after(() => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

test('a URL opens a store that every handle shares', async (t) => {
  const url = freshDatabase(t);
  const a = KeyStore.open(url, { argon2: CHEAP, signingKeys: SIGNING });
  const b = KeyStore.open(url, { argon2: CHEAP, signingKeys: SIGNING, schema: 'keyscope', poolSize: 2,
    listen: false, offlineGrace: 10 });
  const { key, secret } = await a.createKey({ name: 'fleet', grants: ['reports:read'] });
  const tok = await b.issueToken(key.id, secret);
  assert.equal(a.authorize(tok.accessToken, 'reports', 'read').keyName, 'fleet');
  assert.equal(b.getKey(key.id).name, 'fleet');
  a.close();
  b.close();
});

test('PostgreSQL-only options are refused on SQLite and checked on PostgreSQL', () => {
  for (const o of [{ schema: 'x' }, { poolSize: 2 }, { listen: false }]) {
    assert.throws(() => KeyStore.open(':memory:', o), code('KEYSCOPE_INVALID_INPUT'));
  }
  assert.throws(() => KeyStore.open(':memory:', { listen: 'yes' }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => KeyStore.open(PG_URL, { poolSize: 65 }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => KeyStore.open(PG_URL, { schema: 'Bad-Name' }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => KeyStore.open(PG_URL, { offlineGrace: 3601 }), code('KEYSCOPE_INVALID_INPUT'));
});

test('a bad URL names its part and a refused login hides the password', () => {
  assert.throws(() => KeyStore.open('postgresql://u:hunter2@127.0.0.1:99999/db'), (e) => {
    assert.equal(e.code, 'KEYSCOPE_INVALID_INPUT');
    assert.match(e.message, /url\.port/);
    assert.doesNotMatch(e.message, /hunter2/);
    return true;
  });
  const host = new URL(PG_URL).host;
  assert.throws(() => KeyStore.open(`postgresql://nobody_ks:hunter2@${host}/test`, { argon2: CHEAP }), (e) => {
    assert.equal(e.code, 'KEYSCOPE_STORAGE');
    assert.match(e.message, /nobody_ks/);
    assert.doesNotMatch(e.message, /hunter2/);
    return true;
  });
});
