'use strict';
// The ESM entry points (index.mjs, express.mjs) export exactly what the CommonJS ones
// do, and package.json's `exports` sends `import` and `require` to them.
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const pkg = require('../package.json');

const root = path.join(__dirname, '..');
const esm = (file) => import(pathToFileURL(path.join(root, file)).href);

for (const [cjs, mjs] of [['index.js', 'index.mjs'], ['express.js', 'express.mjs']]) {
  test(`${mjs} re-exports every export of ${cjs}, the same objects`, async () => {
    const c = require(path.join(root, cjs));
    const m = await esm(mjs);
    const names = Object.keys(c).filter((k) => k !== 'default').sort();
    assert.ok(names.length >= 4, `${cjs} exports ${names}`);
    assert.deepStrictEqual(Object.keys(m).filter((k) => k !== 'default').sort(), names);
    for (const k of names) assert.strictEqual(m[k], c[k], k);
    assert.strictEqual(m.default, c);
  });
}

test('package.json maps import and require to their own entry points and types', () => {
  for (const [sub, base] of [['.', 'index'], ['./express', 'express']]) {
    assert.deepStrictEqual(pkg.exports[sub], {
      import: { types: `./${base}.d.mts`, default: `./${base}.mjs` },
      require: { types: `./${base}.d.ts`, default: `./${base}.js` },
    });
    for (const f of [`${base}.js`, `${base}.mjs`, `${base}.d.ts`, `${base}.d.mts`]) {
      assert.ok(pkg.files.includes(f), `${f} is not in files`);
    }
  }
  assert.ok(!pkg.files.some((f) => f.endsWith('.node')), 'the main package carries no addon');
  assert.ok(!pkg.optionalDependencies, 'a checkout names no addon package (packaging/npm_pack.py adds it)');
  assert.ok(!Object.keys(pkg.scripts).some((s) => /^(pre|post)?install$/.test(s)), 'no install script');
});
