'use strict';
// Interop worker in Node: deletes the given keys one by one (logging commit times),
// creates keys, and authorizes the tokens in a loop, logging every result.
//   node node_worker.js <db> <work.json> <seconds> <log file>
const fs = require('node:fs');
const { KeyStore } = require('../../node');

async function main() {
  const [db, workFile, seconds, logFile] = process.argv.slice(2);
  const work = JSON.parse(fs.readFileSync(workFile, 'utf8'));
  const store = KeyStore.open(db, { argon2: { memoryKib: 64, iterations: 1, parallelism: 1 } });
  const lines = [];
  const events = [];
  const end = Date.now() + Number(seconds) * 1000;
  const deleteEvery = (Number(seconds) * 1000 * 0.6) / work.deletes.length;
  let nextDelete = Date.now() + 300;
  let created = 0;
  for (let i = 0; Date.now() < end; i++) {
    if (work.deletes.length && Date.now() >= nextDelete) {
      const id = work.deletes.shift();
      store.deleteKey(id);
      events.push({ at: Date.now(), action: 'delete', id });
      nextDelete += deleteEvery;
    }
    if (created < work.creates && i % 50 === 0) {
      await store.createKey({ name: `node-${created++}`, grants: ['reports:read'] });
    }
    const t = i % work.tokens.length;
    const start = Date.now();
    let code = 'ok';
    try { store.authorize(work.tokens[t], 'reports', 'read'); } catch (e) { code = e.code.replace('KEYSCOPE_', '').toLowerCase(); }
    lines.push(`${start}\t${t}\t${code}`);
    if (i % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  while (created < work.creates) await store.createKey({ name: `node-${created++}`, grants: ['reports:read'] });
  for (const id of work.deletes) { store.deleteKey(id); events.push({ at: Date.now(), action: 'delete', id }); }
  fs.writeFileSync(logFile, lines.join('\n') + '\n');
  fs.writeFileSync(logFile + '.events.json', JSON.stringify(events));
  store.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
