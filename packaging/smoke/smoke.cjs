'use strict';
// The installed npm package through require(): open the store the Python step made,
// exchange its key for a token, authorize with that token and with Python's.
//   node smoke.cjs STORE KEYS.json
const assert = require('node:assert');
const fs = require('node:fs');
const keyscope = require('keyscope');
const { KeyStore } = keyscope;

async function main() {
  const [store, keysFile] = process.argv.slice(2);
  const keys = JSON.parse(fs.readFileSync(keysFile, 'utf8'));
  assert.match(require.resolve('keyscope'), /node_modules[\\/]keyscope[\\/]index\.js$/);
  assert.match(require.resolve('keyscope-linux-x64-gnu'), /node_modules[\\/]keyscope-linux-x64-gnu[\\/]/);
  const s = KeyStore.open(store);
  const token = await s.issueToken(keys.key_id, keys.secret, { clientIp: '127.0.0.1' });
  for (const t of [token.accessToken, keys.token]) {
    const p = s.authorize(t, 'reports', 'read', { clientIp: '127.0.0.1' });
    assert.strictEqual(p.keyId, keys.key_id);
  }
  assert.throws(() => s.authorize(token.accessToken, 'reports', 'write', { clientIp: '127.0.0.1' }),
    (e) => e.code === 'KEYSCOPE_INSUFFICIENT_SCOPE');
  s.close();
  console.log('node (require): exchanged and authorized; Python\'s token authorized too');
}
main().catch((e) => { console.error(e); process.exit(1); });
