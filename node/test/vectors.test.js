'use strict';
// Replays the shared vectors of core/tests/vectors (as the Rust, Python and C suites do).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { KeyStore, secretIsWellFormed } = require('..');
const { memStore, memLocation } = require('./helpers');

const load = (name) => JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'core', 'tests', 'vectors', name), 'utf8'));
const invalid = (e) => e.code === 'KEYSCOPE_INVALID_INPUT';

test('names', async () => {
  const v = load('names.json');
  const s = memStore();
  for (const name of v.valid) await s.createKey({ name, grants: ['reports:read'] });
  for (const name of v.invalid) await assert.rejects(s.createKey({ name, grants: ['reports:read'] }), invalid, JSON.stringify(name));
});

test('grants', async () => {
  const v = load('grants.json');
  const s = memStore();
  for (const [i, g] of v.valid.entries()) await s.createKey({ name: `g${i}`, grants: [g] });
  for (const g of v.invalid) await assert.rejects(s.createKey({ name: 'bad', grants: [g] }), invalid, g);
});

test('networks', async () => {
  const v = load('networks.json');
  const s = memStore();
  for (const [i, c] of v.valid.entries()) {
    const { key } = await s.createKey({ name: `n${i}`, grants: ['reports:read'], networks: [c.input] });
    assert.deepEqual(key.networks, [c.canonical]);
  }
  for (const n of v.invalid) await assert.rejects(s.createKey({ name: 'bad', grants: ['reports:read'], networks: [n] }), invalid, n);
});

test('secrets', () => {
  const v = load('secrets.json');
  for (const s of v.valid) assert.ok(secretIsWellFormed(s, v.prefix), s);
  for (const s of v.invalid) assert.ok(!secretIsWellFormed(s, v.prefix), s);
});

test('tokens', () => {
  const v = load('tokens.json');
  const s = KeyStore.open(memLocation(), { signingKeys: [{ kid: v.kid, secret: Buffer.from(v.secret_hex, 'hex') }] });
  const now = new Date(v.now * 1000);
  for (const c of v.cases) {
    assert.throws(() => s.authorize(c.token, v.resource, v.permission, { now }),
      (e) => e.code === 'KEYSCOPE_' + c.expect.toUpperCase(), c.why);
  }
});
