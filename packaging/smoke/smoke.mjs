// The installed npm package through import: the same calls as smoke.cjs.
//   node smoke.mjs STORE KEYS.json
import assert from 'node:assert';
import fs from 'node:fs';
import keyscope, { KeyStore } from 'keyscope';
import { mountHttp } from 'keyscope/express';

const [store, keysFile] = process.argv.slice(2);
const keys = JSON.parse(fs.readFileSync(keysFile, 'utf8'));
assert.strictEqual(keyscope.KeyStore, KeyStore);
assert.strictEqual(typeof mountHttp, 'function');
const s = KeyStore.open(store);
const token = await s.issueToken(keys.key_id, keys.secret, { clientIp: '127.0.0.1' });
const p = s.authorize(token.accessToken, 'reports', 'read', { clientIp: '127.0.0.1' });
assert.strictEqual(p.keyId, keys.key_id);
s.close();
console.log('node (import): exchanged and authorized');
