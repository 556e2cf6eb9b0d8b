'use strict';
// A Node app obtaining an access token from keyscope's token endpoint, as an OAuth
// client would over HTTP (client credentials, HTTP Basic).
//   node token_client.js <store.db> <key id> <client ip>     (secret on stdin)
const { KeyStore } = require('../../node');

async function main() {
  const [db, keyId, clientIp] = process.argv.slice(2);
  const secret = require('node:fs').readFileSync(0, 'utf8').trim();
  const store = KeyStore.open(db);
  const basic = 'Basic ' + Buffer.from(`${keyId}:${secret}`).toString('base64');
  const r = await store.tokenEndpoint(basic, 'application/x-www-form-urlencoded',
    Buffer.from('grant_type=client_credentials'), clientIp);
  process.stdout.write(JSON.stringify({ status: r.status, body: JSON.parse(r.body) }) + '\n');
  store.close();
}

main().catch((e) => { console.error(`${e.code}: ${e.message}`); process.exit(1); });
