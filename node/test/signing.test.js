'use strict';
// Signing keys through Node: tokenAlg, the key table and its states, rotation and
// retirement, keys sealed with keyEncryptionKey, the JWK Set, metadata and revocation.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { KeyStore } = require('..');
const { CHEAP, SIGNING, T0, at, memLocation, tmpDb } = require('./helpers');

const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };
const header = (token) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());

async function tokenOf(s, now = T0) {
  const { key, secret } = await s.createKey({ name: `svc-${Math.random()}`, grants: ['reports:read'], now });
  return { key, secret, token: (await s.issueToken(key.id, secret, { now })).accessToken };
}

test('a new store signs with a current key of tokenAlg and publishes current and next', async () => {
  for (const alg of [undefined, 'ES256', 'EdDSA', 'RS256', 'HS256']) {
    const s = KeyStore.open(memLocation(), { argon2: CHEAP, ...(alg && { tokenAlg: alg }) });
    const keys = s.signingKeys();
    assert.deepEqual(keys.map((k) => [k.state, k.alg]), [['current', alg || 'ES256'], ['next', alg || 'ES256']]);
    for (const k of keys) {
      assert.ok(k.createdAt instanceof Date);
      assert.equal(k.retiredAt, null);
      assert.match(k.kid, /^[A-Za-z0-9_-]{16}$/);
    }
    const { token } = await tokenOf(s);
    assert.deepEqual(header(token), { alg: alg || 'ES256', typ: 'at+jwt', kid: keys[0].kid });
    const set = JSON.parse(s.jwks());
    if (alg === 'HS256') {
      assert.deepEqual(set, { keys: [] });
      assert.ok(keys.every((k) => k.publicJwk === null));
    } else {
      assert.deepEqual(set.keys, keys.map((k) => k.publicJwk));
      for (const jwk of set.keys) {
        assert.equal(jwk.use, 'sig');
        for (const privatePart of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.ok(!(privatePart in jwk), privatePart);
      }
    }
    s.close();
  }
});

test('rotateSigningKey: next signs, current retires and still verifies; audited', async () => {
  const s = KeyStore.open(memLocation(), { argon2: CHEAP });
  const [current, next] = s.signingKeys({ now: T0 });
  const { token } = await tokenOf(s);
  const rotated = s.rotateSigningKey({ alg: 'EdDSA', actor: 'ops', now: at(1000) });
  assert.equal(rotated.kid, next.kid);
  assert.equal(rotated.state, 'current');
  const keys = s.signingKeys({ now: at(1000) });
  assert.deepEqual(keys.map((k) => [k.state, k.alg]), [['current', 'ES256'], ['next', 'EdDSA'], ['retired', 'ES256']]);
  assert.equal(keys[2].kid, current.kid);
  assert.equal(keys[2].retiredAt.getTime(), at(1000).getTime());
  assert.equal(s.authorize(token, 'reports', 'read', { now: at(2000) }).org, 'default');
  const after = (await tokenOf(s, at(2000))).token;
  assert.equal(header(after).kid, next.kid);
  const record = s.auditLog().items.find((r) => r.action === 'signing_key_rotated');
  assert.equal(record.keyId, next.kid);
  assert.equal(record.actor, 'ops');
  assert.throws(() => s.rotateSigningKey({ alg: 'none' }), (e) => e.code === 'KEYSCOPE_INVALID_INPUT' && e.field === 'alg');
  assert.throws(() => s.rotateSigningKey({ algorithm: 'ES256' }), code('KEYSCOPE_INVALID_INPUT'));
});

test('retireSigningKey: gracefully, or immediately revoking what the key signed', async () => {
  const s = KeyStore.open(memLocation(), { argon2: CHEAP });
  const [current] = s.signingKeys();
  const { token } = await tokenOf(s, new Date());
  s.retireSigningKey(current.kid, { actor: 'ops' });
  assert.equal(s.signingKeys().find((k) => k.kid === current.kid).state, 'retired');
  assert.ok(s.authorize(token, 'reports'));
  s.retireSigningKey(current.kid, { immediately: true });
  assert.throws(() => s.authorize(token, 'reports'), code('KEYSCOPE_INVALID_TOKEN'));
  assert.ok(!JSON.parse(s.jwks()).keys.some((k) => k.kid === current.kid));
  assert.equal(s.auditLog().items.filter((r) => r.action === 'signing_key_retired').length, 2);
  assert.throws(() => s.retireSigningKey('nosuchkid'), code('KEYSCOPE_NOT_FOUND'));
  assert.throws(() => s.retireSigningKey(current.kid, { immediately: 'yes' }),
    (e) => e.code === 'KEYSCOPE_INVALID_INPUT' && e.field === 'immediately');
});

test('signing keys belong to the store: an org view and the signingKeys option refuse them', async () => {
  const s = KeyStore.open(memLocation(), { argon2: CHEAP });
  const view = s.org('acme');
  for (const call of [() => view.signingKeys(), () => view.rotateSigningKey(), () => view.retireSigningKey('k')]) {
    assert.throws(call, code('KEYSCOPE_INVALID_INPUT'));
  }
  const fixed = KeyStore.open(memLocation(), { argon2: CHEAP, signingKeys: SIGNING });
  assert.deepEqual(fixed.signingKeys().map((k) => [k.kid, k.alg, k.state, k.publicJwk]), [['k1', 'HS256', 'current', null]]);
  assert.throws(() => fixed.rotateSigningKey(), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => fixed.retireSigningKey('k1'), code('KEYSCOPE_INVALID_INPUT'));
  assert.equal(fixed.jwks(), '{"keys":[]}');
  assert.throws(() => KeyStore.open(memLocation(), { signingKeys: SIGNING, tokenAlg: 'ES256' }), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => KeyStore.open(':memory:', { tokenAlg: 'es256' }), (e) => e.field === 'tokenAlg');
});

test('keyEncryptionKey seals private keys: without it the store verifies but cannot sign', async () => {
  const kek = Buffer.alloc(32, 9);
  const db = tmpDb();
  const sealed = KeyStore.open(db, { argon2: CHEAP, keyEncryptionKey: kek });
  const { key, secret, token } = await tokenOf(sealed);
  const saved = process.env.KEYSCOPE_KEY_ENCRYPTION_KEY;
  delete process.env.KEYSCOPE_KEY_ENCRYPTION_KEY;
  try {
    const without = KeyStore.open(db, { argon2: CHEAP });
    assert.equal(without.authorize(token, 'reports', 'read', { now: T0 }).keyId, key.id);
    await assert.rejects(without.issueToken(key.id, secret), code('KEYSCOPE_STORAGE'));
    assert.throws(() => KeyStore.open(db, { argon2: CHEAP, keyEncryptionKey: Buffer.alloc(32, 1) }), code('KEYSCOPE_STORAGE'));
    const again = KeyStore.open(db, { argon2: CHEAP, keyEncryptionKey: Buffer.from(kek) });
    assert.ok((await again.issueToken(key.id, secret)).accessToken);
  } finally {
    if (saved !== undefined) process.env.KEYSCOPE_KEY_ENCRYPTION_KEY = saved;
  }
  for (const bad of [Buffer.alloc(31), 'a'.repeat(32), new Uint16Array(16)]) {
    assert.throws(() => KeyStore.open(':memory:', { keyEncryptionKey: bad }),
      (e) => e.code === 'KEYSCOPE_INVALID_INPUT' && e.field === 'keyEncryptionKey');
  }
});

test('revokeToken denies a token of this store and reports what it did', async () => {
  const s = KeyStore.open(memLocation(), { argon2: CHEAP });
  const { token } = await tokenOf(s, new Date());
  assert.equal(s.org('acme').revokeToken(token), false, 'another org\'s view leaves it alone');
  assert.ok(s.authorize(token, 'reports'));
  assert.equal(s.revokeToken(token), true);
  assert.throws(() => s.authorize(token, 'reports'), code('KEYSCOPE_TOKEN_REVOKED'));
  assert.equal(s.revokeToken('not.a.token'), false);
  assert.throws(() => s.revokeToken(Buffer.from(token)), (e) => e.code === 'KEYSCOPE_INVALID_INPUT' && e.field === 'token');
});

test('metadata needs an issuer URL; jwks and metadata are JSON text', () => {
  const plain = KeyStore.open(':memory:');
  assert.throws(() => plain.metadata(), (e) => e.code === 'KEYSCOPE_INVALID_INPUT' && e.field === 'issuer');
  const s = KeyStore.open(':memory:', { issuer: 'https://auth.example.com/t', catalog: 'secure_access' });
  const doc = JSON.parse(s.metadata());
  assert.equal(doc.jwks_uri, 'https://auth.example.com/t/.well-known/jwks.json');
  assert.deepEqual(doc.grant_types_supported, ['client_credentials']);
  assert.ok(doc.scopes_supported.length > 0);
  s.close();
  assert.throws(() => s.jwks(), code('KEYSCOPE_STORAGE'));
  assert.throws(() => s.signingKeys(), code('KEYSCOPE_STORAGE'));
});
