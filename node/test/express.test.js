'use strict';
// The Express middleware and token handler against a real app on loopback.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const express = require('express');
const { requireScope, tokenHandler } = require('../express');
const { memStore } = require('./helpers');

test('express: token endpoint, then protected routes', async () => {
  const store = memStore({ trustedProxies: ['127.0.0.1/32'] });
  const { key, secret } = await store.createKey({ name: 'svc', grants: ['reports:read'], networks: ['64.100.10.0/24'] });
  const app = express();
  app.post('/auth/v2/token', tokenHandler(store));
  app.get('/reports', requireScope(store, 'reports', 'read'), (req, res) => res.json({ caller: req.keyscope.keyName }));
  app.post('/reports', requireScope(store, 'reports', 'write'), (req, res) => res.json({}));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  const fwd = { 'X-Forwarded-For': '64.100.10.7' };
  try {
    const basic = 'Basic ' + Buffer.from(`${key.id}:${secret}`).toString('base64');
    let r = await fetch(`${base}/auth/v2/token`, { method: 'POST', body: 'grant_type=client_credentials',
      headers: { Authorization: basic, 'Content-Type': 'application/x-www-form-urlencoded', ...fwd } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const { access_token: token } = await r.json();
    r = await fetch(`${base}/reports`, { headers: { Authorization: `Bearer ${token}`, ...fwd } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { caller: 'svc' });
    r = await fetch(`${base}/reports`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, ...fwd } });
    assert.equal(r.status, 403);
    assert.match(r.headers.get('www-authenticate'), /error="insufficient_scope", scope="reports:write"/);
    r = await fetch(`${base}/reports`, { headers: { Authorization: `Bearer ${token}`, 'X-Forwarded-For': '8.8.8.8' } });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).error, 'KEYSCOPE_NETWORK_DENIED');
    r = await fetch(`${base}/reports`);
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="keyscope"');
    r = await fetch(`${base}/auth/v2/token`, { method: 'POST', body: 'grant_type=client_credentials',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...fwd } });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /^Basic/);
  } finally {
    server.close();
  }
});
