'use strict';
// Token exchange and authorization (docs/tokens.md, docs/authorization.md, docs/http.md) through Node.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { memStore, memLocation, T0, at, tmpDb, CHEAP, SIGNING } = require('./helpers');
const { KeyStore } = require('..');

const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };

async function setup(extra = {}) {
  const s = memStore(extra);
  const { key, secret } = await s.createKey({ name: 'svc', grants: ['deployments.networks:write', 'reports:read'],
    networks: ['64.100.10.0/24'], now: T0 });
  return { s, key, secret };
}

test('exchange, then authorize with string or Buffer tokens', async () => {
  const { s, key, secret } = await setup();
  const tok = await s.issueToken(key.id, secret, { clientIp: '64.100.10.7', now: T0 });
  assert.equal(tok.tokenType, 'Bearer');
  assert.equal(tok.expiresIn, 3600);
  assert.equal(tok.expiresAt.getTime(), at(3600e3).getTime());
  const p = s.authorize(tok.accessToken, 'deployments.networks', 'write', { clientIp: '64.100.10.7', now: T0 });
  assert.equal(p.keyId, key.id);
  assert.equal(p.keyName, 'svc');
  assert.deepEqual(p.scope, ['deployments.networks:write', 'reports:read']);
  assert.ok(p.expiresAt instanceof Date);
  const viaBuffer = s.authorize(Buffer.from(tok.accessToken), 'reports', 'read', { clientIp: '::ffff:64.100.10.7', now: T0 });
  assert.equal(viaBuffer.keyId, key.id);
});

test('every refusal carries its code', async () => {
  const { s, key, secret } = await setup({ maxFailedExchangesPerMinute: 2 });
  const tok = (await s.issueToken(key.id, secret, { clientIp: '64.100.10.7', now: T0 })).accessToken;
  const auth = (res, perm, ip, now = T0) => () => s.authorize(tok, res, perm, { clientIp: ip, now });
  assert.throws(auth('reports', 'read', '8.8.8.8'), code('KEYSCOPE_NETWORK_DENIED'));
  assert.throws(auth('reports', 'write', '64.100.10.7'), (e) => e.code === 'KEYSCOPE_INSUFFICIENT_SCOPE' && e.requiredScope === 'reports:write');
  assert.throws(auth('reports', 'read', '64.100.10.7', at(3600e3)), code('KEYSCOPE_TOKEN_EXPIRED'));
  assert.throws(auth('not a resource', 'read', '64.100.10.7'), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => s.authorize(tok + 'x', 'reports', 'read', { now: T0 }), code('KEYSCOPE_INVALID_TOKEN'));
  assert.throws(() => s.authorize('x'.repeat(65536), 'reports'), code('KEYSCOPE_INVALID_TOKEN'));
  await assert.rejects(s.issueToken(key.id, secret, { clientIp: '64.100.10.7', scope: 'admin:write', now: T0 }), code('KEYSCOPE_INVALID_SCOPE'));
  await assert.rejects(s.issueToken(key.id, secret, { clientIp: '1.1.1.1', now: T0 }), code('KEYSCOPE_NETWORK_DENIED'));
  s.updateKey(key.id, { enabled: false });
  assert.throws(auth('reports', 'read', '64.100.10.7'), code('KEYSCOPE_KEY_DISABLED'));
  await assert.rejects(s.issueToken(key.id, secret, { clientIp: '64.100.10.7', now: T0 }), code('KEYSCOPE_KEY_DISABLED'));
  s.updateKey(key.id, { enabled: true });
  assert.throws(auth('reports', 'read', '64.100.10.7'), code('KEYSCOPE_TOKEN_REVOKED'));
  s.updateKey(key.id, { expiresAt: at(1000), now: T0 });
  await assert.rejects(s.issueToken(key.id, secret, { clientIp: '64.100.10.7', now: at(1000) }), code('KEYSCOPE_KEY_EXPIRED'));
  // Failed secrets: counted, then rate limited; a secret verified before still passes.
  const other = (await s.createKey({ name: 'other', grants: ['reports:read'] })).secret;
  await assert.rejects(s.issueToken(key.id, other, { clientIp: '64.100.10.7', now: T0 }), code('KEYSCOPE_INVALID_CREDENTIALS'));
  await assert.rejects(s.issueToken(key.id, other, { clientIp: '64.100.10.7', now: T0 }), code('KEYSCOPE_INVALID_CREDENTIALS'));
  await assert.rejects(s.issueToken(key.id, other, { clientIp: '64.100.10.7', now: T0 }), (e) => e.code === 'KEYSCOPE_RATE_LIMITED' && e.retryAfter === 60);
  await assert.rejects(s.issueToken(key.id, secret, { clientIp: '64.100.10.7', now: at(1000) }), code('KEYSCOPE_KEY_EXPIRED'));
});

test('refresh revokes, grace keeps the old token until it ends', async () => {
  const { s, key, secret } = await setup();
  const tok = (await s.issueToken(key.id, secret, { clientIp: '64.100.10.7', now: T0 })).accessToken;
  await s.refreshKey(key.id, { grace: 600, now: T0 });
  s.authorize(tok, 'reports', 'read', { clientIp: '64.100.10.7', now: at(599e3) });
  assert.throws(() => s.authorize(tok, 'reports', 'read', { clientIp: '64.100.10.7', now: at(600e3) }), code('KEYSCOPE_TOKEN_REVOKED'));
  s.deleteKey(key.id);
  assert.throws(() => s.authorize(tok, 'reports', 'read', { clientIp: '64.100.10.7', now: T0 }), code('KEYSCOPE_TOKEN_REVOKED'));
});

test('tokenEndpoint and authorizeHeader', async () => {
  const { s, key, secret } = await setup();
  const basic = 'Basic ' + Buffer.from(`${key.id}:${secret}`).toString('base64');
  const r = await s.tokenEndpoint(basic, 'application/x-www-form-urlencoded', Buffer.from('grant_type=client_credentials'), '64.100.10.7');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers['Cache-Control'], 'no-store');
  const token = JSON.parse(r.body).access_token;
  const p = s.authorizeHeader(`Bearer ${token}`, 'reports', 'read', { clientIp: '64.100.10.7' });
  assert.equal(p.keyId, key.id);
  assert.throws(() => s.authorizeHeader(`Bearer ${token}`, 'reports', 'write', { clientIp: '64.100.10.7' }),
    (e) => e.status === 403 && e.wwwAuthenticate === 'Bearer realm="keyscope", error="insufficient_scope", scope="reports:write"');
  assert.throws(() => s.authorizeHeader(undefined, 'reports'), (e) => e.status === 401 && e.wwwAuthenticate === 'Bearer realm="keyscope"');
  const bad = await s.tokenEndpoint(null, 'application/x-www-form-urlencoded', 'grant_type=password', '64.100.10.7');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error, 'unsupported_grant_type');
});

test('clientAddress trusts X-Forwarded-For only from trusted proxies', () => {
  const s = memStore({ trustedProxies: ['10.0.0.0/8'] });
  assert.equal(s.clientAddress('10.0.0.1', '64.100.10.7, 10.0.0.2'), '64.100.10.7');
  assert.equal(s.clientAddress('10.0.0.1', ['1.1.1.1', '64.100.10.7']), '64.100.10.7');
  assert.equal(s.clientAddress('64.100.10.9', '1.1.1.1'), '64.100.10.9');
  assert.equal(s.clientAddress('10.0.0.1', 'junk'), null);
});

test('the event loop keeps ticking during Argon2', async () => {
  // Decided by order, not by time: a timer set after the four calls fires before
  // any of them resolves only if their Argon2 (some 15 ms each at the default cost)
  // runs off the event loop. Had a call hashed on the loop, it would have resolved
  // before returning, and its continuation (a microtask) would run before any timer.
  // The timer phase also comes before the loop collects finished work, so a loop
  // thread starved of CPU by the hashing still sees the timer first.
  const s = KeyStore.open(memLocation(), { signingKeys: SIGNING }); // default Argon2 cost
  const order = [];
  const calls = [0, 1, 2, 3].map((i) =>
    s.createKey({ name: `k${i}`, grants: ['reports:read'] }).then(() => order.push(`key ${i}`)));
  const ticked = new Promise((resolve) => setTimeout(() => { order.push('tick'); resolve(); }, 0));
  await Promise.all([...calls, ticked]);
  assert.equal(order[0], 'tick', `the loop ran only after Argon2: ${order.join(', ')}`);
  assert.equal(order.length, 5);
});

test('a handle sees another handle\'s refresh within revocationStaleness', async () => {
  const path = tmpDb();
  const writer = KeyStore.open(path, { argon2: CHEAP, signingKeys: SIGNING });
  const reader = KeyStore.open(path, { argon2: CHEAP, signingKeys: SIGNING, revocationStaleness: 0.05 });
  const { key, secret } = await writer.createKey({ name: 'a', grants: ['reports:read'] });
  const tok = (await writer.issueToken(key.id, secret)).accessToken;
  reader.authorize(tok, 'reports');
  await writer.refreshKey(key.id);
  await new Promise((r) => setTimeout(r, 120));
  assert.throws(() => reader.authorize(tok, 'reports'), code('KEYSCOPE_TOKEN_REVOKED'));
});

test('clearCaches, store.parseNetworks and the module clientAddress', async () => {
  const { clientAddress } = require('..');
  const { s, key, secret } = await setup();
  const tok = (await s.issueToken(key.id, secret, { clientIp: '64.100.10.7', now: T0 })).accessToken;
  s.authorize(tok, 'reports', 'read', { clientIp: '64.100.10.7', now: T0 });
  s.clearCaches();
  assert.equal(s.authorize(tok, 'reports', 'read', { clientIp: '64.100.10.7', now: T0 }).keyId, key.id);
  assert.deepEqual(s.parseNetworks('64.100.10.7/32, 2001:4860::/32'), ['64.100.10.7', '2001:4860::/32']);
  assert.throws(() => s.parseNetworks('10.0.0.0/8'), code('KEYSCOPE_INVALID_INPUT'));
  assert.equal(clientAddress('10.0.0.1', '64.100.10.7', ['10.0.0.0/8']), '64.100.10.7');
  assert.equal(clientAddress('10.0.0.1', '64.100.10.7', []), '10.0.0.1');
  assert.throws(() => clientAddress('10.0.0.1', null, ['nope']), code('KEYSCOPE_INVALID_INPUT'));
});
