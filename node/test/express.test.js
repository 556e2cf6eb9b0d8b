'use strict';
// The Express middleware, token handler and mountHttp against a real app on loopback.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const express = require('express');
const { MAX_BODY_BYTES } = require('..');
const { requireScope, tokenHandler, mountHttp } = require('../express');
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
    server.closeAllConnections();
    server.close();
  }
});

// mountHttp: every keyscope route through one catch-all, answered with the bytes
// handleHttp gives; the application's own routes come first.
async function listen(app) {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return server;
}

function stop(server) {
  server.closeAllConnections();
  return new Promise((r) => server.close(r));
}

test('express: mountHttp serves the routes with handleHttp\'s status, headers and bytes', async () => {
  const store = memStore({ issuer: 'http://localhost', trustedProxies: ['127.0.0.1/32'] });
  const { key, secret } = await store.createKey({ name: 'svc', grants: ['reports:read'], networks: ['64.100.10.0/24'] });
  const app = express();
  app.get('/reports', requireScope(store, 'reports', 'read'), (req, res) => res.json({ caller: req.keyscope.keyName }));
  mountHttp(app, store);
  const server = await listen(app);
  const base = `http://127.0.0.1:${server.address().port}`;
  const fwd = { 'X-Forwarded-For': '64.100.10.7' };
  try {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/jwks.json', '/healthz', '/nowhere']) {
      const direct = await store.handleHttp({ method: 'GET', path });
      const r = await fetch(base + path);
      assert.equal(r.status, direct.status, path);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), direct.body, path);
      for (const [name, value] of direct.headers) assert.equal(r.headers.get(name), value, `${path} ${name}`);
    }
    let r = await fetch(`${base}/auth/v2/token`);
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
    const basic = 'Basic ' + Buffer.from(`${key.id}:${secret}`).toString('base64');
    // The peer (a trusted proxy) and X-Forwarded-For reach the store: the key's networks apply.
    r = await fetch(`${base}/auth/v2/token`, { method: 'POST', body: 'grant_type=client_credentials',
      headers: { Authorization: basic, ...form, 'X-Forwarded-For': '8.8.8.8' } });
    assert.equal(r.status, 401);
    assert.match((await r.json()).error_description, /client address is not allowed/);
    r = await fetch(`${base}/auth/v2/token`, { method: 'POST', body: 'grant_type=client_credentials',
      headers: { Authorization: basic, ...form, ...fwd } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const { access_token: token } = await r.json();
    r = await fetch(`${base}/reports`, { headers: { Authorization: `Bearer ${token}`, ...fwd } });
    assert.deepEqual(await r.json(), { caller: 'svc' });
    r = await fetch(`${base}/auth/v2/introspect`, { method: 'POST', body: `token=${token}`,
      headers: { Authorization: basic, ...form, ...fwd } });
    assert.equal((await r.json()).active, true);
  } finally {
    await stop(server);
  }
});

test('express: mountHttp stops reading a body over MAX_BODY_BYTES and answers 413', async () => {
  const store = memStore();
  const server = await listen(mountHttp(express(), store));
  const { port } = server.address();
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  try {
    // Declared too long: answered before the body is read.
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x61);
    const r = await fetch(`http://127.0.0.1:${port}/auth/v2/token`, { method: 'POST', body: big, headers: form });
    assert.equal(r.status, 413);
    assert.deepEqual(await r.json(), { error: 'request_too_large' });
    // Chunked, never ended: the answer comes once the limit is passed, not at the end.
    const answer = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/auth/v2/token', headers: form });
      req.on('response', (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c)).on('end', () => resolve({ res, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      for (let i = 0; i < 9; i++) req.write(Buffer.alloc(8192, 0x61));
    });
    assert.equal(answer.res.statusCode, 413);
    assert.equal(answer.res.headers.connection, 'close');
    assert.deepEqual(JSON.parse(answer.body), { error: 'request_too_large' });
    // Exactly the limit is read and handed over.
    const ok = await fetch(`http://127.0.0.1:${port}/auth/v2/token`, { method: 'POST', headers: form,
      body: Buffer.alloc(MAX_BODY_BYTES, 0x61) });
    assert.equal(ok.status, 400);
  } finally {
    await stop(server);
  }
});

test('express: mountHttp takes a body a parser already read', async () => {
  const store = memStore();
  const { key, secret } = await store.createKey({ name: 'svc', grants: ['reports:read'] });
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  mountHttp(app, store);
  const server = await listen(app);
  try {
    const r = await fetch(`http://127.0.0.1:${server.address().port}/auth/v2/token`, { method: 'POST',
      body: `grant_type=client_credentials&client_id=${key.id}&client_secret=${secret}`,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).token_type, 'Bearer');
  } finally {
    await stop(server);
  }
});
