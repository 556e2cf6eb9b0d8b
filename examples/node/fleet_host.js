'use strict';
// A Node app on one host of a fleet: it opens the shared store once and keeps the
// handle; it serves the token endpoint (OAuth 2.0 client credentials, HTTP Basic) and
// authorizes tokens. Requests are JSON lines on stdin, answers JSON lines on stdout:
//   {"op": "token", "keyId", "secret", "clientIp"}             -> {status, body}
//   {"op": "authorize", "token", "resource", "permission", "clientIp"}
//                                                               -> {allowed, keyName} | {allowed: false, code}
//   {"op": "watch", ..., "timeoutMs"}  -> {watching: true}, then, once the token is
//                                         refused, {code, atUs} (Unix time in us)
//   node fleet_host.js <store URL or path>
const readline = require('node:readline');
const { KeyStore } = require('../../node');

const codeOf = (e) => (e.code || 'internal').replace('KEYSCOPE_', '').toLowerCase();
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const send = (v) => process.stdout.write(JSON.stringify(v) + '\n');

async function handle(store, req) {
  if (req.op === 'token') {
    const basic = 'Basic ' + Buffer.from(`${req.keyId}:${req.secret}`).toString('base64');
    const r = await store.tokenEndpoint(basic, 'application/x-www-form-urlencoded',
      Buffer.from('grant_type=client_credentials'), req.clientIp);
    return send({ status: r.status, body: JSON.parse(r.body) });
  }
  if (req.op === 'authorize') {
    try {
      const p = store.authorize(req.token, req.resource, req.permission, { clientIp: req.clientIp });
      return send({ allowed: true, keyName: p.keyName });
    } catch (e) {
      return send({ allowed: false, code: codeOf(e) });
    }
  }
  if (req.op === 'watch') {
    send({ watching: true });
    const end = Date.now() + req.timeoutMs;
    for (;;) { // authorize answers from memory; pause now and then for the other hosts
      for (let i = 0; i < 10; i++) {
        try {
          store.authorize(req.token, req.resource, req.permission, { clientIp: req.clientIp });
        } catch (e) {
          return send({ code: codeOf(e), atUs: nowUs() });
        }
      }
      if (Date.now() > end) return send({ code: 'timeout' });
      await new Promise((r) => setTimeout(r, 0));
    }
  }
  return send({ error: `unknown op ${req.op}` });
}

async function main() {
  const store = KeyStore.open(process.argv[2]);
  send({ ready: true });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim()) await handle(store, JSON.parse(line));
  }
  store.close();
}

main().catch((e) => { console.error(`${e.code}: ${e.message}`); process.exit(1); });
