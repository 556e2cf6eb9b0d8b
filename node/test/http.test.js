'use strict';
// handleHttp through Node: the request object's forms (headers as an object or as
// pairs; body as a string, Buffer or Uint8Array, copied when the call is made), the
// answer's shape, the routes under an issuer's path, and arguments refused.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { KeyStore } = require('..');
const { CHEAP, T0, memLocation, memStore } = require('./helpers');

const FORM = 'application/x-www-form-urlencoded';
const json = (r) => JSON.parse(r.body.toString());

async function client(s) {
  const { key, secret } = await s.createKey({ name: 'svc', grants: ['reports:read'], now: T0 });
  return { key, secret, basic: 'Basic ' + Buffer.from(`${key.id}:${secret}`).toString('base64') };
}

test('handleHttp answers { status, headers: [name, value][], body: Buffer }', async () => {
  const s = memStore();
  const r = await s.handleHttp({ method: 'GET', path: '/healthz' });
  assert.equal(r.status, 200);
  assert.ok(Buffer.isBuffer(r.body));
  assert.deepEqual(json(r), { status: 'ok' });
  assert.ok(r.headers.every((h) => Array.isArray(h) && h.length === 2 && h.every((x) => typeof x === 'string')));
  assert.ok(r.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.startsWith('application/json')));
  const missing = await s.handleHttp({ method: 'GET', path: '/nowhere' });
  assert.equal(missing.status, 404);
  const wrong = await s.handleHttp({ method: 'DELETE', path: '/auth/v2/token?x=1' });
  assert.equal(wrong.status, 405);
  assert.deepEqual(wrong.headers.find(([n]) => n === 'Allow'), ['Allow', 'POST']);
});

test('headers as an object (list values, undefined skipped) or as pairs; every body form', async () => {
  const s = memStore();
  const { key, basic } = await client(s);
  const body = 'grant_type=client_credentials';
  const forms = [
    { headers: { authorization: basic, 'content-type': FORM, 'x-skipped': undefined }, body },
    { headers: { Authorization: [basic], 'Content-Type': FORM }, body: Buffer.from(body) },
    { headers: [['authorization', basic], ['content-type', FORM]], body: new Uint8Array(Buffer.from(body)) },
    { headers: [['AUTHORIZATION', basic], ['Content-Type', FORM]], body: Buffer.from(`xx${body}yy`).subarray(2, -2) },
  ];
  for (const f of forms) {
    const r = await s.handleHttp({ method: 'POST', path: '/auth/v2/token', ...f, now: T0 });
    assert.equal(r.status, 200, r.body.toString());
    const tok = json(r);
    assert.equal(s.authorize(tok.access_token, 'reports', 'read', { now: T0 }).keyId, key.id);
    assert.equal(tok.expires_in, 3600);
  }
  const none = await s.handleHttp({ method: 'POST', path: '/auth/v2/token', headers: { 'content-type': FORM } });
  assert.equal(none.status, 400);
});

test('the body is copied when handleHttp is called: later writes to it change nothing', async () => {
  const s = memStore();
  const { key, secret } = await client(s);
  const body = Buffer.from(`grant_type=client_credentials&client_id=${key.id}&client_secret=${secret}`);
  const pending = s.handleHttp({ method: 'POST', path: '/auth/v2/token', headers: { 'content-type': FORM }, body });
  body.fill(0x41);
  const r = await pending;
  assert.equal(r.status, 200, r.body.toString());
});

test('clientIp is the peer; X-Forwarded-For counts only from trustedProxies', async () => {
  const s = memStore({ trustedProxies: ['10.0.0.0/8'], allowPrivateNetworks: true });
  const { key, secret } = await s.createKey({ name: 'svc', grants: ['reports:read'], networks: ['64.100.10.0/24'] });
  const req = (clientIp, xff) => s.handleHttp({ method: 'POST', path: '/auth/v2/token', clientIp,
    headers: { 'content-type': FORM, ...(xff && { 'x-forwarded-for': xff }) },
    body: `grant_type=client_credentials&client_id=${key.id}&client_secret=${secret}` });
  assert.equal((await req('64.100.10.7')).status, 200);
  assert.equal((await req('10.0.0.1', '64.100.10.7')).status, 200);
  assert.equal((await req('8.8.8.8', '64.100.10.7')).status, 401);
  assert.equal((await req('10.0.0.1')).status, 401);
});

test('routes live under the issuer\'s path, metadata where RFC 8414 puts it', async () => {
  const s = KeyStore.open(memLocation(), { argon2: CHEAP, issuer: 'https://auth.example.com/t' });
  for (const path of ['/.well-known/oauth-authorization-server/t', '/t/.well-known/oauth-authorization-server']) {
    const r = await s.handleHttp({ method: 'GET', path });
    assert.equal(r.status, 200, path);
    assert.deepEqual(json(r), JSON.parse(s.metadata()));
  }
  const set = await s.handleHttp({ method: 'GET', path: '/t/.well-known/jwks.json' });
  assert.equal(set.body.toString(), s.jwks());
  assert.deepEqual(set.headers.find(([n]) => n === 'Cache-Control'), ['Cache-Control', 'public, max-age=300']);
  assert.equal((await s.handleHttp({ method: 'GET', path: '/.well-known/jwks.json' })).status, 404);
  const plain = memStore();
  assert.equal((await plain.handleHttp({ method: 'GET', path: '/.well-known/oauth-authorization-server' })).status, 404);
});

test('introspection and revocation through handleHttp', async () => {
  const s = memStore();
  const { key, secret, basic } = await client(s);
  const token = (await s.issueToken(key.id, secret)).accessToken;
  const post = (path, body) => s.handleHttp({ method: 'POST', path, headers: { authorization: basic, 'content-type': FORM }, body });
  let r = await post('/auth/v2/introspect', `token=${token}`);
  assert.equal(json(r).active, true);
  assert.equal(json(r).client_id, key.id);
  r = await post('/auth/v2/revoke', `token=${token}`);
  assert.equal(r.status, 200);
  assert.deepEqual(json(await post('/auth/v2/introspect', `token=${token}`)), { active: false });
  assert.throws(() => s.authorize(token, 'reports'), (e) => e.code === 'KEYSCOPE_TOKEN_REVOKED');
});

test('a malformed request object rejects with KEYSCOPE_INVALID_INPUT naming the field', async () => {
  const s = memStore();
  const cases = [
    [undefined, 'request'], ['GET /', 'request'], [[], 'request'],
    [{ path: '/healthz' }, 'method'], [{ method: 'GET' }, 'path'], [{ method: 1, path: '/' }, 'method'],
    [{ method: 'GET', path: '/', headers: 'x' }, 'headers'],
    [{ method: 'GET', path: '/', headers: { a: 1 } }, 'headers.a'],
    [{ method: 'GET', path: '/', headers: { a: ['b', 2] } }, 'headers.a[1]'],
    [{ method: 'GET', path: '/', headers: [['a']] }, 'headers[0]'],
    [{ method: 'GET', path: '/', headers: [['a', 1]] }, 'headers[0][1]'],
    [{ method: 'GET', path: '/', body: 5 }, 'body'],
    [{ method: 'GET', path: '/', body: new Uint16Array(2) }, 'body'],
    [{ method: 'GET', path: '/', clientIp: 5 }, 'clientIp'],
    [{ method: 'GET', path: '/', now: 'today' }, 'now'],
    [{ method: 'GET', path: '/', extra: true }, 'request.extra'],
    [{ method: 'GET', path: '/\ud800' }, 'path'],
  ];
  for (const [request, field] of cases) {
    await assert.rejects(s.handleHttp(request), (e) => {
      assert.equal(e.code, 'KEYSCOPE_INVALID_INPUT', `${field}: ${e.message}`);
      assert.equal(e.field, field, e.message);
      return true;
    });
  }
  const view = s.org('acme');
  view.close();
  await assert.rejects(view.handleHttp({ method: 'GET', path: '/healthz' }), (e) => e.code === 'KEYSCOPE_STORAGE');
  s.close();
  const closed = await s.handleHttp({ method: 'GET', path: '/healthz' });
  assert.equal(closed.status, 503);
});
