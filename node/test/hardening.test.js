'use strict';
// Regression tests for the findings of the security review (issue 12), through Node.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { memStore, T0, at } = require('./helpers');

const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };

test('closing an org view detaches only that view', async () => {
  const s = memStore();
  const acme = s.org('acme');
  const { key } = await acme.createKey({ name: 'a', grants: ['reports:read'], now: T0 });
  const view = s.org('acme');
  assert.equal(view.getKey(key.id, { now: T0 }).id, key.id);
  view.close();
  view.close(); // twice is fine
  assert.throws(() => view.getKey(key.id, { now: T0 }), code('KEYSCOPE_STORAGE'));
  assert.throws(() => view.org('acme'), code('KEYSCOPE_STORAGE'));
  assert.throws(() => view.parseNetworks('64.100.10.7'), code('KEYSCOPE_STORAGE'));
  await assert.rejects(view.createKey({ name: 'b', grants: ['reports:read'], now: T0 }), code('KEYSCOPE_STORAGE'));
  // The store and its other views carry on.
  assert.equal(acme.getKey(key.id, { now: T0 }).name, 'a');
  assert.equal(s.summary({ now: T0 }).total, 0);
  assert.equal(s.org('acme').listKeys({ now: T0 }).items[0].id, key.id);
  s.close();
});

test('a closed view refuses authorize; the store still answers', async () => {
  const s = memStore();
  const { key, secret } = await s.createKey({ name: 'a', grants: ['reports:read'], now: T0 });
  const tok = await s.issueToken(key.id, secret, { now: T0 });
  const view = s.org('default');
  assert.equal(view.authorize(tok.accessToken, 'reports', 'read', { now: T0 }).keyId, key.id);
  view.close();
  assert.throws(() => view.authorize(tok.accessToken, 'reports', 'read', { now: T0 }), code('KEYSCOPE_STORAGE'));
  await assert.rejects(view.issueToken(key.id, secret, { now: T0 }), code('KEYSCOPE_STORAGE'));
  assert.equal(s.authorize(tok.accessToken, 'reports', 'read', { now: T0 }).keyId, key.id);
  s.close();
});

test('closing the store still closes its views', () => {
  const s = memStore();
  const view = s.org('acme');
  s.close();
  assert.throws(() => view.summary({ now: T0 }), code('KEYSCOPE_STORAGE'));
  assert.throws(() => s.summary({ now: T0 }), code('KEYSCOPE_STORAGE'));
});

test('Principal.scope follows grants narrowed after issue', async () => {
  const s = memStore();
  const { key, secret } = await s.createKey({ name: 'a', grants: ['deployments:write', 'reports:read'], now: T0 });
  const tok = await s.issueToken(key.id, secret, { now: T0 });
  s.updateKey(key.id, { grants: ['reports:read'], now: T0 });
  assert.deepEqual(s.authorize(tok.accessToken, 'reports', 'read', { now: at(1000) }).scope, ['reports:read']);
  s.close();
});

test('WWW-Authenticate is short printable ASCII whatever the token says', () => {
  const s = memStore();
  const b64 = (x) => Buffer.from(x).toString('base64url');
  const header = JSON.stringify({ alg: '\u00e9'.repeat(2000), typ: 'at+jwt', kid: 'k' });
  const token = `${b64(header)}.${b64('{}')}.${b64(Buffer.alloc(32))}`;
  assert.throws(() => s.authorizeHeader(`Bearer ${token}`, 'reports', 'read', { now: T0 }), (e) => {
    assert.equal(e.status, 401);
    assert.match(e.wwwAuthenticate, /^[\x20-\x7e]{1,256}$/);
    return true;
  });
  s.close();
});

test('authorize runs only on a KeyStore: any other receiver is refused, never cast', async () => {
  const { KeyStore } = require('..');
  const s = memStore();
  const { key, secret } = await s.createKey({ name: 'a', grants: ['reports:read'], now: T0 });
  const tok = (await s.issueToken(key.id, secret, { now: T0 })).accessToken;
  const authorize = KeyStore.prototype.authorize;
  // The prototype's function is the one every store call uses.
  assert.equal(s.authorize, authorize);
  assert.equal(authorize.call(s, tok, 'reports', 'read', { now: T0 }).keyId, key.id);
  assert.equal(authorize.call(s.org('default'), tok, 'reports', 'read', { now: T0 }).keyId, key.id);
  const spoofed = [undefined, null, {}, [], () => {}, Object.create(KeyStore.prototype),
    Object.setPrototypeOf({ handle: 1 }, KeyStore.prototype), new Date(), Buffer.from('x')];
  for (const receiver of spoofed) {
    assert.throws(() => authorize.call(receiver, tok, 'reports', 'read', { now: T0 }),
      /authorize must be called on a KeyStore/, String(receiver));
  }
  // Absent and extra arguments read as they always did (no options: the clock's
  // now, before this token's issue time).
  assert.throws(() => s.authorize(), code('KEYSCOPE_INVALID_INPUT'));
  assert.throws(() => s.authorize(tok), code('KEYSCOPE_INVALID_INPUT'));
  assert.equal(s.authorize(tok, 'reports', undefined, { now: T0 }, 'extra').keyId, key.id);
  assert.throws(() => s.authorize(tok, 'reports', 'read', undefined), code('KEYSCOPE_INVALID_TOKEN'));
  s.close();
});

test('Principals built from kept key strings follow renames, narrowing and other keys', async () => {
  const s = memStore();
  const a = await s.createKey({ name: 'a', grants: ['reports:read', 'policies:read'], now: T0 });
  const b = await s.createKey({ name: 'b', grants: ['reports:read'], now: T0 });
  const ta = (await s.issueToken(a.key.id, a.secret, { now: T0 })).accessToken;
  const tb = (await s.issueToken(b.key.id, b.secret, { now: T0 })).accessToken;
  const now = { now: at(1000) };
  const first = s.authorize(ta, 'reports', 'read', now);
  assert.deepEqual(first.scope, ['reports:read', 'policies:read']);
  // A caller changing what it was given changes nothing for the next call.
  first.scope.push('deployments:write');
  first.scope[0] = 'changed';
  first.keyName = 'changed';
  const again = s.authorize(ta, 'reports', 'read', now);
  assert.deepEqual(again.scope, ['reports:read', 'policies:read']);
  assert.equal(again.keyName, 'a');
  assert.notEqual(again.scope, first.scope);
  // Two keys in turn each get their own.
  for (let i = 0; i < 3; i++) {
    assert.equal(s.authorize(tb, 'reports', 'read', now).keyName, 'b');
    assert.equal(s.authorize(ta, 'reports', 'read', now).keyName, 'a');
  }
  // A rename and a narrowing show on the next call with the same token.
  s.updateKey(a.key.id, { name: 'a2', grants: ['reports:read'], now: at(1500) });
  const renamed = s.authorize(ta, 'reports', 'read', { now: at(2000) });
  assert.equal(renamed.keyName, 'a2');
  assert.deepEqual(renamed.scope, ['reports:read']);
  assert.deepEqual(Object.keys(renamed), ['keyId', 'keyName', 'org', 'scope', 'tokenId', 'expiresAt']);
  s.close();
});

test('patched Array methods never see the kept key parts, nor change later Principals', async () => {
  const s = memStore();
  const { key, secret } = await s.createKey({ name: 'a', grants: ['reports:read'], now: T0 });
  const tok = (await s.issueToken(key.id, secret, { now: T0 })).accessToken;
  const now = { now: at(1000) };
  s.authorize(tok, 'reports', 'read', now);
  const names = ['slice', 'push', 'concat', 'map', 'splice'];
  const saved = names.map((n) => Array.prototype[n]);
  const reached = [];
  names.forEach((n, i) => {
    Array.prototype[n] = function (...args) {
      reached.push(this);
      if (Array.isArray(this) && this.length > 1) this[1] = 'forged';
      return saved[i].apply(this, args);
    };
  });
  let p;
  try {
    p = s.authorize(tok, 'reports', 'read', now);
  } finally {
    names.forEach((n, i) => { Array.prototype[n] = saved[i]; });
  }
  // The JavaScript half copies the scope by index: no Array method runs on the path.
  assert.deepEqual(reached, []);
  assert.deepEqual(p.scope, ['reports:read']);
  const again = s.authorize(tok, 'reports', 'read', now);
  assert.equal(again.keyName, 'a');
  assert.equal(again.keyId, key.id);
  assert.deepEqual(again.scope, ['reports:read']);
  // A caller changing its Principal changes no later one.
  again.scope.push('forged:write');
  again.scope[0] = 'forged';
  assert.deepEqual(s.authorize(tok, 'reports', 'read', now).scope, ['reports:read']);
  s.close();
});
