'use strict';
// Shared helpers of the Node tests: cheap Argon2, temporary stores, a fixed clock.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { KeyStore } = require('..');

const CHEAP = { memoryKib: 64, iterations: 1, parallelism: 1 };
const T0 = new Date('2027-01-15T12:00:00Z');
const SIGNING = [{ kid: 'k1', secret: Buffer.alloc(32, 7) }];

function tmpDb() {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ks-')), 'keys.db');
}

function memStore(options = {}) {
  return KeyStore.open(':memory:', { argon2: CHEAP, signingKeys: SIGNING, ...options });
}

const at = (ms) => new Date(T0.getTime() + ms);

module.exports = { CHEAP, T0, SIGNING, tmpDb, memStore, at };
