'use strict';
// Finding 1 (a token read twice): authorize reads a Buffer or other view once. A
// worker keeps switching a SharedArrayBuffer between a token the store issued and a
// forgery (its claims with a wider scope, its signature); the forgery's claims must
// never be accepted, nor cached for the issued token's bytes.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const { memStore, T0 } = require('./helpers');

const WRITER = `
const { workerData: { sab, diff } } = require('node:worker_threads');
const view = new Uint8Array(sab);
const ctl = new Int32Array(sab, sab.byteLength - 4, 1);
Atomics.store(ctl, 0, 1);
let spin = 1;
while (Atomics.load(ctl, 0) === 1) {
  for (const [i, , y] of diff) Atomics.store(view, i, y);
  for (let k = 0; k < spin; k++);
  for (const [i, x] of diff) Atomics.store(view, i, x);
  for (let k = 0; k < spin; k++);
  spin = (spin * 7) % 2039 + 1;
}
`;

test('a SharedArrayBuffer written during authorize never gets unsigned claims accepted', async () => {
  const s = memStore();
  const { key, secret } = await s.createKey({ name: 'svc', grants: ['aaaaa:read', 'bbbbb:read'], now: T0 });
  const issued = (await s.issueToken(key.id, secret, { scope: 'aaaaa:read', now: T0 })).accessToken;
  const [h, p, sig] = issued.split('.');
  const claims = Buffer.from(p, 'base64url').toString();
  assert.ok(claims.includes('"scope":"aaaaa:read"'), claims);
  const forgedClaims = claims.replace('"scope":"aaaaa:read"', '"scope":"bbbbb:read"');
  const forged = `${h}.${Buffer.from(forgedClaims).toString('base64url')}.${sig}`;
  assert.equal(forged.length, issued.length);
  const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };
  assert.throws(() => s.authorize(forged, 'bbbbb', 'read', { now: T0 }), code('KEYSCOPE_INVALID_TOKEN'));

  // The token's bytes, then 4 bytes (aligned) of control for the worker.
  const len = Math.ceil(issued.length / 4) * 4;
  const sab = new SharedArrayBuffer(len + 4);
  const view = new Uint8Array(sab, 0, issued.length);
  view.set(Buffer.from(issued));
  assert.equal(s.authorize(view, 'aaaaa', 'read', { now: T0 }).keyId, key.id, 'a shared view is read');
  const diff = [];
  for (let i = 0; i < issued.length; i++) {
    if (issued.charCodeAt(i) !== forged.charCodeAt(i)) diff.push([i, issued.charCodeAt(i), forged.charCodeAt(i)]);
  }
  const ctl = new Int32Array(sab, len, 1);
  const worker = new Worker(WRITER, { eval: true, workerData: { sab, diff } });
  while (Atomics.load(ctl, 0) !== 1) await new Promise((r) => setTimeout(r, 1));
  let accepted = 0;
  let calls = 0;
  const end = Date.now() + 1500;
  while (Date.now() < end) {
    try {
      s.authorize(view, 'bbbbb', 'read', { now: T0 });
      accepted++;
    } catch (e) {
      if (!['KEYSCOPE_INVALID_TOKEN', 'KEYSCOPE_INSUFFICIENT_SCOPE'].includes(e.code)) throw e;
    }
    calls++;
  }
  Atomics.store(ctl, 0, 0);
  await worker.terminate();
  assert.equal(accepted, 0, `${accepted} of ${calls} calls accepted claims that were never signed`);
  assert.throws(() => s.authorize(issued, 'bbbbb', 'read', { now: T0 }), code('KEYSCOPE_INSUFFICIENT_SCOPE'));
  assert.equal(s.authorize(issued, 'aaaaa', 'read', { now: T0 }).keyId, key.id);
  s.close();
});

test('a view longer than the token limit is refused before it is read', () => {
  const s = memStore();
  const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };
  assert.throws(() => s.authorize(Buffer.alloc(8 * 1024 + 1, 0x61), 'reports', 'read'), code('KEYSCOPE_INVALID_TOKEN'));
  assert.throws(() => s.authorize(Buffer.from([0x61, 0xff]), 'reports', 'read'), code('KEYSCOPE_INVALID_TOKEN'));
  s.close();
});
