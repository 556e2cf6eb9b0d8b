'use strict';
// authorize and issueToken from Node beside jsonwebtoken and jose, on the same token,
// in one process. Run: `make bench-node` (release build). Medians of 7 rounds.
const crypto = require('node:crypto');
const { KeyStore } = require('..');

const SECRET = Buffer.alloc(32, 7);
const IP = '64.100.10.7';

function medianNs(fn, n, rounds = 7) {
  const out = [];
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    out.push(Number(process.hrtime.bigint() - t) / n);
  }
  out.sort((a, b) => a - b);
  return out[Math.floor(out.length / 2)];
}

async function medianNsAsync(fn, n, rounds = 7) {
  const out = [];
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn(i);
    out.push(Number(process.hrtime.bigint() - t) / n);
  }
  out.sort((a, b) => a - b);
  return out[Math.floor(out.length / 2)];
}

async function main() {
  const store = KeyStore.open(':memory:', { signingKeys: [{ kid: 'k1', secret: SECRET }] });
  const { key, secret } = await store.createKey({ name: 'bench',
    grants: ['deployments.networks:write', 'reports:read', 'policies:read'],
    networks: ['64.100.10.0/24', '2001:4860::/32', '8.8.8.0/24'] });
  const tok = (await store.issueToken(key.id, secret, { clientIp: IP })).accessToken;
  const opts = { clientIp: IP };
  const rows = [];
  rows.push(['keyscope authorize (repeat token)', medianNs(() => store.authorize(tok, 'deployments.networks', 'write', opts), 200000)]);
  const buf = Buffer.from(tok);
  rows.push(['keyscope authorize (Buffer token)', medianNs(() => store.authorize(buf, 'deployments.networks', 'write', opts), 200000)]);
  const fresh = [];
  for (let i = 0; i < 10000; i++) fresh.push((await store.issueToken(key.id, secret, { clientIp: IP })).accessToken);
  rows.push(['keyscope authorize (first sight)', medianNs((i) => store.authorize(fresh[i % 10000], 'deployments.networks', 'write', opts), 10000)]);
  rows.push(['keyscope issueToken (cached secret)', await medianNsAsync(() => store.issueToken(key.id, secret, opts), 5000)]);
  rows.push(['keyscope issueToken (Argon2)', await medianNsAsync(() => { store.clearCaches(); return store.issueToken(key.id, secret, opts); }, 20, 5)]);
  try {
    const jwt = require('jsonwebtoken');
    const keyObject = crypto.createSecretKey(SECRET);
    rows.push(['jsonwebtoken.verify (KeyObject secret)', medianNs(() => jwt.verify(tok, keyObject, { algorithms: ['HS256'], audience: 'keyscope', issuer: 'keyscope' }), 50000)]);
  } catch (e) { rows.push(['jsonwebtoken: ' + e.message, NaN]); }
  try {
    const { jwtVerify } = await import('jose');
    const k = new Uint8Array(SECRET);
    rows.push(['jose jwtVerify (HS256)', await medianNsAsync(() => jwtVerify(tok, k, { audience: 'keyscope', issuer: 'keyscope' }), 20000)]);
  } catch (e) { rows.push(['jose: ' + e.message, NaN]); }
  for (const [name, ns] of rows) {
    const v = ns > 1e5 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1000).toFixed(2)} µs`;
    console.log(name.padEnd(42) + v.padStart(10));
  }
}

main();
