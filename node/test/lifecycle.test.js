'use strict';
// The key lifecycle (docs/keys.md, docs/grants-and-networks.md) through the Node surface.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { KeyStore, parseNetworks, errorCodes, errorForCode } = require('..');
const { CHEAP, T0, tmpDb, memStore, at } = require('./helpers');

const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };

test('every core error code maps to a KEYSCOPE_ code', () => {
  const codes = errorCodes();
  assert.equal(codes.length, 15);
  for (const c of ['invalid_input', 'not_found', 'conflict', 'invalid_credentials', 'key_disabled', 'key_expired',
    'network_denied', 'invalid_scope', 'rate_limited', 'invalid_token', 'token_expired', 'token_revoked',
    'insufficient_scope', 'storage', 'internal']) {
    const e = errorForCode(c, 'boom');
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'KEYSCOPE_' + c.toUpperCase());
    assert.equal(e.message, 'boom');
    assert.ok(codes.includes(e.code));
  }
});

test('createKey returns the key and its secret, with Dates', async () => {
  const s = memStore();
  const { key, secret } = await s.createKey({ name: 'ci', grants: ['reports:read'], networks: ['64.100.10.7/32'],
    expiresAt: at(86400e3), now: T0, actor: 'alice' });
  assert.match(key.id, /^[0-9a-f]{32}$/);
  assert.equal(key.org, 'default');
  assert.deepEqual(key.networks, ['64.100.10.7']);
  assert.ok(key.createdAt instanceof Date);
  assert.equal(key.createdAt.getTime(), T0.getTime());
  assert.equal(key.expiresAt.getTime(), at(86400e3).getTime());
  assert.equal(key.description, null);
  assert.equal(key.lastRefreshedAt, null);
  assert.equal(key.status, 'active');
  assert.match(secret, /^kss_[0-9A-Za-z]{49}$/);
});

test('bad input rejects with KEYSCOPE_INVALID_INPUT naming the field', async () => {
  const s = memStore();
  const cases = [
    [{ name: '', grants: ['reports:read'] }, 'name'],
    [{ name: 'x', grants: [] }, 'grants'],
    [{ name: 'x', grants: ['reports:admin'] }, 'grants[0]'],
    [{ name: 'x', grants: ['reports:read'], networks: ['64.100.10.5/24'] }, 'networks[0]'],
    [{ name: 'x', grants: ['reports:read'], networks: ['10.0.0.0/8'] }, 'networks[0]'],
    [{ name: 'x', grants: ['reports:read'], expiresAt: new Date(0) }, 'expiresAt'],
    [{ name: 'x', grants: ['reports:read'], expiresAt: '2030-01-01' }, 'expiresAt'],
    [{ name: 'bad\ud800', grants: ['reports:read'] }, 'name'],
    [{ name: 'x', grants: 'reports:read' }, 'grants'],
    [{ name: 'x', grants: ['reports:read'], bogus: 1 }, 'params.bogus'],
  ];
  for (const [params, field] of cases) {
    await assert.rejects(s.createKey(params), (e) => {
      assert.equal(e.code, 'KEYSCOPE_INVALID_INPUT', JSON.stringify(params));
      assert.equal(e.field, field, e.message);
      return true;
    });
  }
  assert.equal(s.summary().total, 0);
});

test('host bits error suggests the network', async () => {
  const s = memStore();
  await assert.rejects(s.createKey({ name: 'x', grants: ['reports:read'], networks: ['64.100.10.5/24'] }),
    /did you mean 64\.100\.10\.0\/24/);
});

test('updateKey: undefined keeps, null clears', async () => {
  const s = memStore();
  const { key } = await s.createKey({ name: 'a', grants: ['reports:read'], description: 'd', expiresAt: at(5 * 86400e3), now: T0 });
  const same = s.updateKey(key.id, { name: 'b', description: undefined });
  assert.equal(same.description, 'd');
  assert.equal(same.expiresAt.getTime(), key.expiresAt.getTime());
  assert.equal(same.version, 2);
  const cleared = s.updateKey(key.id, { description: null, expiresAt: null });
  assert.equal(cleared.description, null);
  assert.equal(cleared.expiresAt, null);
  assert.throws(() => s.updateKey(key.id, { name: null }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => s.updateKey(key.id, { description: 'x', expectedVersion: 1 }), code('KEYSCOPE_CONFLICT'));
});

test('names are unique per org; views are closed', async () => {
  const s = memStore();
  const { key } = await s.createKey({ name: 'a', grants: ['reports:read'] });
  await assert.rejects(s.createKey({ name: 'a', grants: ['reports:read'] }), code('KEYSCOPE_CONFLICT'));
  const acme = s.org('acme');
  assert.equal(acme.orgName, 'acme');
  assert.equal((await acme.createKey({ name: 'a', grants: ['reports:read'] })).key.org, 'acme');
  assert.throws(() => acme.getKey(key.id), code('KEYSCOPE_NOT_FOUND'));
  assert.throws(() => acme.deleteKey(key.id), code('KEYSCOPE_NOT_FOUND'));
  assert.equal(acme.summary().total, 1);
  assert.throws(() => acme.org('other'), code('KEYSCOPE_INVALID_INPUT'));
});

test('listKeys filters and pages; summary counts', async () => {
  const s = memStore();
  for (let i = 0; i < 5; i++) await s.createKey({ name: `k${i}`, grants: ['reports:read'], now: T0 });
  await s.createKey({ name: 'soon', grants: ['reports:read'], expiresAt: at(3 * 86400e3), now: T0 });
  let page = s.listKeys({ limit: 2, now: T0 });
  const names = page.items.map((k) => k.name);
  while (page.nextCursor) {
    page = s.listKeys({ limit: 2, cursor: page.nextCursor, now: T0 });
    names.push(...page.items.map((k) => k.name));
  }
  assert.deepEqual(names, ['k0', 'k1', 'k2', 'k3', 'k4', 'soon']);
  assert.deepEqual(s.listKeys({ status: 'expiring', now: T0 }).items.map((k) => k.name), ['soon']);
  assert.deepEqual(s.listKeys({ status: 'expiring', within: 86400, now: T0 }).items, []);
  assert.throws(() => s.listKeys({ limit: 0 }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => s.listKeys({ status: 'nope' }), code('KEYSCOPE_INVALID_INPUT'));
  const sm = s.summary({ within: 30 * 86400, now: T0 });
  assert.deepEqual({ ...sm }, { total: 6, active: 6, expired: 0, expiringSoon: 1, neverExpires: 5, disabled: 0 });
});

test('refresh, delete and the audit log', async () => {
  const s = memStore();
  const { key, secret } = await s.createKey({ name: 'a', grants: ['reports:read'], actor: 'alice' });
  const fresh = await s.refreshKey(key.id, { grace: 60, actor: 'bob' });
  assert.equal(fresh.key.id, key.id);
  assert.notEqual(fresh.secret, secret);
  assert.ok(fresh.key.lastRefreshedAt instanceof Date);
  await assert.rejects(s.refreshKey(key.id, { grace: 8 * 86400 }), code('KEYSCOPE_INVALID_INPUT'));
  await assert.rejects(s.refreshKey('0'.repeat(32)), code('KEYSCOPE_NOT_FOUND'));
  s.deleteKey(key.id, { actor: 'carol' });
  const log = s.auditLog({ keyId: key.id }).items;
  assert.deepEqual(log.map((r) => r.action), ['delete', 'refresh', 'create']);
  assert.deepEqual(log.map((r) => r.actor), ['carol', 'bob', 'alice']);
  assert.ok(log[0].at instanceof Date);
});

test('closed store throws KEYSCOPE_STORAGE; unknown options are refused', () => {
  const s = KeyStore.open(tmpDb(), { argon2: CHEAP });
  s.close();
  assert.throws(() => s.summary(), code('KEYSCOPE_STORAGE'));
  assert.throws(() => KeyStore.open(':memory:', { nope: 1 }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => KeyStore.open(':memory:', { tokenTtl: 5 }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => KeyStore.open(':memory:', { signingKeys: [{ kid: 'k', secret: Buffer.alloc(8) }] }),
    code('KEYSCOPE_INVALID_INPUT'));
});

test('parseNetworks reports the entry position', () => {
  assert.deepEqual(parseNetworks('64.100.10.7, 2001:4860::/32'), ['64.100.10.7', '2001:4860::/32']);
  assert.throws(() => parseNetworks('64.100.10.7, nope'), (e) => e.code === 'KEYSCOPE_INVALID_INPUT' && /entry 2/.test(e.message));
  assert.deepEqual(parseNetworks('10.0.0.0/8', { allowPrivateNetworks: true }), ['10.0.0.0/8']);
});

test('catalogs: built-in and custom', async () => {
  const s = memStore({ catalog: 'secure_access' });
  await s.createKey({ name: 'a', grants: ['deployments.networks:write'] });
  await assert.rejects(s.createKey({ name: 'b', grants: ['deployments.regions:write'] }), /deployments\.regions:write/);
  const c = memStore({ catalog: { scopes: { billing: { invoices: 'read' } } } });
  await c.createKey({ name: 'a', grants: ['billing.invoices:read'] });
  await assert.rejects(c.createKey({ name: 'b', grants: ['billing:write'] }), code('KEYSCOPE_INVALID_INPUT'));
});
