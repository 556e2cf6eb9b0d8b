'use strict';
// Shared helpers of the Node tests: cheap Argon2, temporary stores, a fixed clock.
//
// The suite runs on the backend named by KEYSCOPE_TEST_BACKEND: 'sqlite' (the default:
// ':memory:' and temporary files) or 'postgres' (a fresh database per store on the
// server at KEYSCOPE_TEST_DATABASE_URL, dropped when the test process exits). Without a
// reachable server a PostgreSQL run fails, saying how to provide one.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { KeyStore } = require('..');

const CHEAP = { memoryKib: 64, iterations: 1, parallelism: 1 };
const T0 = new Date('2027-01-15T12:00:00Z');
const SIGNING = [{ kid: 'k1', secret: Buffer.alloc(32, 7) }];

const BACKEND = process.env.KEYSCOPE_TEST_BACKEND || 'sqlite';
const PG_URL = process.env.KEYSCOPE_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/test';
if (!['sqlite', 'postgres'].includes(BACKEND)) {
  throw new Error(`KEYSCOPE_TEST_BACKEND=${BACKEND}: use sqlite or postgres`);
}

function psql(sql) {
  try {
    execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', PG_URL, '-c', sql], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`the PostgreSQL suite needs a server at ${PG_URL}: ${e.stderr || e.message}\n` +
      'Start one (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set KEYSCOPE_TEST_DATABASE_URL.');
  }
}

const databases = [];
process.on('exit', () => {
  for (const name of databases) psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
});

/** A fresh store location several handles and processes can open: a file or a URL. */
function tmpDb() {
  if (BACKEND === 'postgres') {
    const name = `kst_${crypto.randomBytes(6).toString('hex')}`;
    psql(`CREATE DATABASE ${name}`);
    databases.push(name);
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    return url.toString();
  }
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ks-')), 'keys.db');
}

/** Where a private store goes: ':memory:' on SQLite, a fresh database otherwise. */
function memLocation() {
  return BACKEND === 'sqlite' ? ':memory:' : tmpDb();
}

function memStore(options = {}) {
  return KeyStore.open(memLocation(), { argon2: CHEAP, signingKeys: SIGNING, ...options });
}

const at = (ms) => new Date(T0.getTime() + ms);

/**
 * A loopback HTTP server answering every request with `store.handleHttp`. The store is
 * opened by `open(issuer)` once the port, and so the issuer (`http://127.0.0.1:PORT`
 * followed by `basePath`), is known. `stop()` closes the connections, the store and
 * the server.
 */
async function serveHttp(open, basePath = '') {
  const http = require('node:http');
  let store;
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const r = await store.handleHttp({ method: req.method, path: req.url, headers: req.headers,
      body: Buffer.concat(chunks), clientIp: req.socket.remoteAddress });
    res.statusCode = r.status;
    for (const [name, value] of r.headers) res.setHeader(name, value);
    res.end(r.body);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const issuer = origin + basePath;
  store = open(issuer);
  const stop = () => {
    server.closeAllConnections();
    store.close();
    return new Promise((r) => server.close(r));
  };
  return { store, origin, issuer, stop };
}

module.exports = { BACKEND, CHEAP, T0, SIGNING, tmpDb, memLocation, memStore, at, serveHttp };
