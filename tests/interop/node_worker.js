'use strict';
// Interop worker in Node, one process with its own store handle (a "host").
//
//   node node_worker.js load <store> <dir> <seconds>
//     Reads <dir>/work.json ({tokens, deletes, creates, contest: {at, names}}); deletes
//     the given keys one by one (commit times to <dir>/node.events.json), creates keys
//     node-0.., takes part in the contested-name round at contest.at (results to
//     <dir>/node.contest.json), and authorizes the tokens in a loop, logging
//     "<start ms>\t<token index>\t<code>" per call to <dir>/node.log.
//
//   node node_worker.js watch <store> <tokens file> <seconds> <out file>
//     Authorizes every token still accepted, over and over, and writes
//     "<token index>\t<unix time in us>\t<code>" when a token is first refused.
const fs = require('node:fs');
const path = require('node:path');
const { KeyStore } = require('../../node');

const CHEAP = { argon2: { memoryKib: 64, iterations: 1, parallelism: 1 } };
const codeOf = (e) => (e.code || 'internal').replace('KEYSCOPE_', '').toLowerCase();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

async function load(db, dir, seconds) {
  const work = JSON.parse(fs.readFileSync(path.join(dir, 'work.json'), 'utf8'));
  const store = KeyStore.open(db, CHEAP);
  const lines = [];
  const events = [];
  const end = Date.now() + seconds * 1000;
  const deleteEvery = (seconds * 1000 * 0.6) / Math.max(work.deletes.length, 1);
  let nextDelete = Date.now() + 300;
  let created = 0;
  let contest = work.contest;
  for (let i = 0; Date.now() < end; i++) {
    if (work.deletes.length && Date.now() >= nextDelete) {
      const id = work.deletes.shift();
      store.deleteKey(id);
      events.push({ at: Date.now(), action: 'delete', id });
      nextDelete += deleteEvery;
    }
    if (contest && Date.now() >= contest.at - 50) {
      while (Date.now() < contest.at) await sleep(1);
      const results = [];
      for (const name of contest.names) {
        try {
          const k = await store.createKey({ name, grants: ['reports:read'] });
          results.push({ name, code: 'ok', id: k.key.id });
        } catch (e) {
          results.push({ name, code: codeOf(e), id: null });
        }
      }
      fs.writeFileSync(path.join(dir, 'node.contest.json'), JSON.stringify(results));
      contest = null;
    }
    if (created < work.creates && i % 50 === 0) {
      await store.createKey({ name: `node-${created++}`, grants: ['reports:read'] });
    }
    const t = i % work.tokens.length;
    const start = Date.now();
    let code = 'ok';
    try { store.authorize(work.tokens[t], 'reports', 'read'); } catch (e) { code = codeOf(e); }
    lines.push(`${start}\t${t}\t${code}`);
    if (i % 20 === 19) await sleep(1);
  }
  while (created < work.creates) await store.createKey({ name: `node-${created++}`, grants: ['reports:read'] });
  for (const id of work.deletes) { store.deleteKey(id); events.push({ at: Date.now(), action: 'delete', id }); }
  fs.writeFileSync(path.join(dir, 'node.log'), lines.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'node.events.json'), JSON.stringify(events));
  store.close();
  if (contest) throw new Error('the run ended before the contested-name round');
}

async function watch(db, tokensFile, seconds, outFile) {
  const tokens = fs.readFileSync(tokensFile, 'utf8').split('\n').filter(Boolean);
  const store = KeyStore.open(db, CHEAP);
  const out = fs.openSync(outFile, 'w');
  const refused = new Array(tokens.length).fill(false);
  let left = tokens.length;
  process.stdout.write('ready\n');
  const end = Date.now() + seconds * 1000;
  while (left > 0 && Date.now() < end) {
    for (let t = 0; t < tokens.length; t++) {
      if (refused[t]) continue;
      try { store.authorize(tokens[t], 'reports', 'read'); } catch (e) {
        fs.writeSync(out, `${t}\t${nowUs()}\t${codeOf(e)}\n`);
        refused[t] = true;
        left--;
      }
    }
    // A pass costs microseconds; pause so the event loop (and the CPU) breathe.
    await sleep(0);
  }
  fs.closeSync(out);
  store.close();
}

async function main() {
  const [mode, db, a, seconds, b] = process.argv.slice(2);
  if (mode === 'load') return load(db, a, Number(seconds));
  if (mode === 'watch') return watch(db, a, Number(seconds), b);
  throw new Error('usage: node_worker.js load <store> <dir> <seconds> | watch <store> <tokens> <seconds> <out>');
}

main().catch((e) => { console.error(e); process.exit(1); });
