'use strict';
// The key console (docs/console.md) in a real browser: Debian's chromium driven by
// playwright-core, against a loopback http.createServer whose handler is
// store.handleHttp. Every flow of the page: sign in, the counts, Add (two scopes, an
// expiry date, two networks), the show-once secret (copied, then used), refresh, edit
// and save, delete; and the refusals (a 256-character name, an eleventh network, a
// private network, a name already taken). Elements are found by role and exact name.
//
// Screenshots of each step go to docs/console/ with KEYSCOPE_SCREENSHOTS=1 (how the
// committed ones were made), else to a temporary folder.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { KeyStore } = require('..');
const { CHEAP, memLocation, serveHttp } = require('./helpers');

const CHROMIUM = '/usr/bin/chromium';
const DAY = 86400000;
const SHOTS = process.env.KEYSCOPE_SCREENSHOTS
  ? path.join(__dirname, '..', '..', 'docs', 'console')
  : fs.mkdtempSync(path.join(os.tmpdir(), 'ks-console-'));

/** The console's store behind a loopback server (see helpers.serveHttp). */
function serve(options, basePath = '') {
  return serveHttp((issuer) => KeyStore.open(memLocation(), { issuer, argon2: CHEAP, ...options }), basePath);
}

async function launch() {
  // No skip: without the browser this test fails, saying what to install.
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`the console test needs Debian's chromium at ${CHROMIUM}: apt-get install chromium`);
  }
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM,
    args: ['--no-sandbox', '--headless', '--disable-background-networking'] });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Waits until `check` returns something truthy (or throws with `what`). */
async function eventually(check, what, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(40);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}
const textIs = (loc, want) => eventually(async () => (await loc.textContent()).trim() === want,
  `${loc} to read ${JSON.stringify(want)}`).catch(async (e) => {
  throw new Error(`${e.message} (it reads ${JSON.stringify(await loc.textContent().catch(() => null))})`);
});
const gone = (loc) => eventually(async () => (await loc.count()) === 0, `${loc} to go`);
/** The text of the alert shown for `field`: the field is invalid and described by it. */
async function alertFor(field) {
  const text = await eventually(() => field.evaluate((e) => {
    if (e.getAttribute('aria-invalid') !== 'true') return null;
    for (const id of (e.getAttribute('aria-describedby') || '').split(' ')) {
      const a = id && document.getElementById(id);
      if (a && a.getAttribute('role') === 'alert') return a.textContent.trim();
    }
    return null;
  }), `an alert for ${field}`);
  // And it is an alert by role, too.
  assert.equal(await field.page().getByRole('alert').filter({ hasText: text }).count(), 1);
  return text;
}

/** A token of the Key Admin API from the test, by the form-body client credentials. */
async function tokenFor(issuer, clientId, clientSecret, fromIp) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (fromIp) headers['x-forwarded-for'] = fromIp;
  const r = await fetch(`${issuer}/auth/v2/token`, { method: 'POST', headers,
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) });
  return { status: r.status, body: await r.json() };
}

/** Watches a page: requests to another origin, script errors and CSP violations fail it. */
function watch(page, origin) {
  const problems = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(`${origin}/`)) problems.push(`request to another origin: ${req.url()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[19]|status of 412/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return problems;
}

test('the console, every flow, in chromium', async (t) => {
  const { store, origin, issuer, stop } = await serve({ catalog: 'secure_access', trustedProxies: ['127.0.0.1'] });
  const browser = await launch();
  try {
    const now = Date.now();
    const admin = await store.createKey({ name: 'admin', grants: ['admin.apikeys:write'] });
    await store.createKey({ name: 'legacy-export', description: 'Old export job', grants: ['reports.aggregations:read'],
      expiresAt: new Date(now - DAY), now: new Date(now - 10 * DAY) });
    const nightly = await store.createKey({ name: 'nightly-sync', description: 'Syncs sites',
      grants: ['deployments.sites:write', 'reports:read'], expiresAt: new Date(now + 10 * DAY),
      networks: ['64.100.10.7'] });

    const context = await browser.newContext({ viewport: { width: 1360, height: 960 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    const problems = watch(page, origin);
    // Secrets shown on screen are masked in the screenshots (they are committed).
    const shot = (name, fullPage = false, mask = []) =>
      page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage, mask });
    const role = (r, name, within = page) => within.getByRole(r, { name, exact: true });

    await t.test('the page is served with its security headers', async () => {
      const resp = await page.goto(`${issuer}/admin/`);
      assert.equal(resp.status(), 200);
      const h = resp.headers();
      assert.match(h['content-security-policy'], /default-src 'none'; script-src 'self'; style-src 'self'/);
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['referrer-policy'], 'no-referrer');
      assert.equal(h['cache-control'], 'no-store');
      assert.match(h['content-type'], /^text\/html/);
    });

    await t.test('sign in: a wrong secret is refused in an alert, the right one shows API Keys', async () => {
      await role('textbox', 'API Key').fill(admin.key.id);
      await role('textbox', 'Key Secret').fill('kss_wrong');
      await role('button', 'Sign In').click();
      const alert = page.getByRole('alert');
      await eventually(async () => (await alert.count()) === 1, 'the sign-in alert');
      assert.match(await alert.textContent(), /not valid/);
      await shot('01-sign-in');
      await role('textbox', 'Key Secret').fill(admin.secret);
      await role('button', 'Sign In').click();
      await role('heading', 'API Keys').waitFor();
      // The token is in memory only.
      const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
      assert.deepEqual(stored, [0, 0, '']);
    });

    await t.test('the counts and the list', async () => {
      await textIs(role('status', 'Expired keys'), '1');
      await textIs(role('status', 'Keys expiring within 30 days'), '1');
      for (const name of ['admin', 'legacy-export', 'nightly-sync']) await role('button', name).waitFor();
      const legacy = page.getByRole('row').filter({ has: role('button', 'legacy-export') });
      assert.match(await legacy.textContent(), /Expired/);
      const adminRow = page.getByRole('row').filter({ has: role('button', 'admin') });
      assert.match(await adminRow.textContent(), /Never expire/);
      const nightlyRow = page.getByRole('row').filter({ has: role('button', 'nightly-sync') });
      assert.match(await nightlyRow.textContent(), /Never/); // never used
      assert.match(await nightlyRow.textContent(), /64\.100\.10\.7/);
      await shot('02-key-list');
      await role('searchbox', 'Search').fill('sites');
      await gone(role('button', 'admin'));
      await role('button', 'nightly-sync').waitFor();
      await role('searchbox', 'Search').fill('');
      await role('button', 'admin').waitFor();
    });

    const expiryDay = new Date(now + 20 * DAY).toISOString().slice(0, 10);
    let created;
    await t.test('add a key: two scopes, an expiry date, two networks; the secret shown once', async () => {
      await role('button', 'Add').click();
      const dialog = role('dialog', 'Add API Key');
      await dialog.waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.closest('dialog') !== null), true,
        'focus moves into the dialog');
      assert.match(await dialog.textContent(), /Cisco/); // the note on - and ,
      await role('textbox', 'Name', dialog).fill('ci-reporting');
      await role('textbox', 'Description', dialog).fill('Builds the weekly report');
      // A Read-Only resource and a Read / Write one.
      const reports = role('button', 'reports', dialog);
      assert.equal(await reports.getAttribute('aria-expanded'), 'false');
      await reports.click();
      assert.equal(await reports.getAttribute('aria-expanded'), 'true');
      await role('checkbox', 'reports.aggregations', dialog).check();
      const aggregations = role('radiogroup', 'reports.aggregations', dialog);
      assert.equal(await aggregations.getByRole('radio').count(), 1, 'the catalog offers read only');
      assert.equal(await role('radio', 'Read-Only', aggregations).isChecked(), true);
      await role('button', 'deployments', dialog).click();
      await role('checkbox', 'deployments.networks', dialog).check();
      const networksPerm = role('radiogroup', 'deployments.networks', dialog);
      await role('radio', 'Read / Write', networksPerm).check();
      // The expiry date: Never expire is the default.
      const never = role('checkbox', 'Never expire', dialog);
      assert.equal(await never.isChecked(), true);
      await never.uncheck();
      await role('textbox', 'Expiry Date', dialog).fill(expiryDay);
      // Two networks in one comma-separated entry.
      const restrictions = role('group', 'Network Restrictions', dialog);
      await role('textbox', 'Network Restrictions', restrictions).fill('8.8.8.0/24, 2001:4860::/32');
      await role('button', 'Add', restrictions).click();
      await role('button', 'Remove 8.8.8.0/24', restrictions).waitFor();
      await role('button', 'Remove 2001:4860::/32', restrictions).waitFor();
      await shot('03-add-key');
      await role('button', 'Create Key', dialog).click();

      const done = role('dialog', 'API Key Created');
      await done.waitFor();
      await gone(dialog);
      const id = await role('textbox', 'API Key', done).inputValue();
      const secret = await role('textbox', 'Key Secret', done).inputValue();
      assert.match(secret, /^kss_/);
      created = { id, secret };
      // Copy puts the secret on the clipboard.
      await role('button', 'Copy', role('group', 'Key Secret', done)).click();
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
      await shot('04-key-created', false, [role('textbox', 'Key Secret', done)]);

      // The secret works, from an allowed network only.
      const ok = await tokenFor(issuer, id, secret, '8.8.8.8');
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.match(ok.body.scope, /deployments\.networks:write/);
      assert.equal((await tokenFor(issuer, id, secret)).status, 401, 'refused from 127.0.0.1');
      const key = store.getKey(id);
      assert.equal(key.name, 'ci-reporting');
      assert.equal(key.description, 'Builds the weekly report');
      assert.deepEqual([...key.grants].sort(), ['deployments.networks:write', 'reports.aggregations:read']);
      assert.deepEqual(key.networks, ['8.8.8.0/24', '2001:4860::/32']);
      const [y, m, d] = expiryDay.split('-').map(Number);
      assert.equal(key.expiresAt.getTime(), Date.UTC(y, m - 1, d + 1), '00:00 UTC of the day after');

      await role('button', 'Accept and Close', done).click();
      await gone(done);
      assert.equal((await page.content()).includes(secret), false, 'the secret is gone from the page');
      assert.equal(await page.locator('dialog').count(), 0);
      await role('button', 'ci-reporting').waitFor();
      await textIs(role('status', 'Keys expiring within 30 days'), '2');
    });

    await t.test('refusals: a 256-character name, an eleventh network, a private network, a taken name', async () => {
      const before = store.summary().total;
      await role('button', 'Add').click();
      const dialog = role('dialog', 'Add API Key');
      await dialog.waitFor();
      const name = role('textbox', 'Name', dialog);
      await name.fill('n'.repeat(256));
      assert.match(await alertFor(name), /fewer than 256/);
      await role('button', 'Create Key', dialog).click();
      await sleep(200);
      assert.equal(await dialog.isVisible(), true, 'the dialog stays open');
      assert.equal(store.summary().total, before, 'nothing was sent');
      // A name the library refuses for its characters is refused before sending too.
      await name.fill('trailing space ');
      await role('button', 'Create Key', dialog).click();
      assert.match(await alertFor(name), /start or end with a space/);
      assert.equal(store.summary().total, before, 'nothing was sent');
      await name.fill('n'.repeat(255));
      await eventually(async () => (await name.getAttribute('aria-invalid')) === null, 'the name accepted');

      const restrictions = role('group', 'Network Restrictions', dialog);
      const box = role('textbox', 'Network Restrictions', restrictions);
      await box.fill('10.0.0.0/8');
      await role('button', 'Add', restrictions).click();
      assert.match(await alertFor(box), /10\.0\.0\.0\/8 is a private network/);
      await box.fill('192.168.4.0/24');
      await role('button', 'Add', restrictions).click();
      assert.match(await alertFor(box), /private network/);
      const ten = Array.from({ length: 10 }, (_, i) => `9.9.${i}.0/24`);
      await box.fill(ten.join(', '));
      await role('button', 'Add', restrictions).click();
      await role('button', 'Remove 9.9.9.0/24', restrictions).waitFor();
      await box.fill('1.1.1.1');
      await role('button', 'Add', restrictions).click();
      assert.match(await alertFor(box), /at most 10 networks; this would make 11/);
      assert.equal(await restrictions.getByRole('button', { name: /^Remove / }).count(), 10);
      await role('button', 'Remove 9.9.9.0/24', restrictions).scrollIntoViewIfNeeded();
      await shot('05-add-refusals');
      await role('button', 'Remove 9.9.9.0/24', restrictions).click();
      await box.fill('');

      // The API's 409, next to Name; the dialog stays open.
      await name.fill('admin');
      await role('button', 'usage', dialog).click();
      await role('checkbox', 'usage.metrics', dialog).check();
      await role('button', 'Create Key', dialog).click();
      assert.match(await alertFor(name), /already exists/);
      assert.equal(await dialog.isVisible(), true);
      await shot('06-name-taken');
      assert.equal(store.summary().total, before);
      // Tab stays inside the dialog, both ways.
      for (const key of ['Tab', 'Shift+Tab']) {
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press(key);
          assert.equal(await page.evaluate(() => document.activeElement.closest('dialog') !== null), true,
            `${key} ${i + 1} stays in the dialog`);
        }
      }
      // Escape closes the dialog.
      await page.keyboard.press('Escape');
      await gone(dialog);
    });

    await t.test('refresh: a confirmation, then the new secret once', async () => {
      await role('button', 'ci-reporting').click();
      assert.equal(await role('button', 'ci-reporting').getAttribute('aria-expanded'), 'true');
      const details = role('region', 'ci-reporting');
      await details.waitFor();
      await shot('07-key-expanded', true);
      await role('button', 'Refresh Key', details).click();
      const confirm = role('dialog', 'Refresh Key');
      await confirm.waitFor();
      await shot('08-refresh-confirm');
      await role('button', 'Refresh Key', confirm).click();
      const done = role('dialog', 'API Key Refreshed');
      await done.waitFor();
      const secret = await role('textbox', 'Key Secret', done).inputValue();
      assert.notEqual(secret, created.secret);
      assert.equal((await tokenFor(issuer, created.id, secret, '8.8.8.8')).status, 200);
      assert.equal((await tokenFor(issuer, created.id, created.secret, '8.8.8.8')).status, 401, 'the old one stops');
      await role('button', 'Accept and Close', done).click();
      await gone(done);
      assert.equal((await page.content()).includes(secret), false);
    });

    await t.test('edit and save: PATCH with If-Match; grants outside the catalog are kept', async () => {
      const details = role('region', 'ci-reporting');
      await details.waitFor();
      const desc = role('textbox', 'Description', details);
      await desc.fill('Builds the weekly and monthly reports');
      await role('button', 'Save', details).click();
      const token = (await tokenFor(issuer, admin.key.id, admin.secret)).body.access_token;
      await eventually(async () => {
        const r = await fetch(`${issuer}/admin/v2/apiKeys/${created.id}`, { headers: { authorization: `Bearer ${token}` } });
        const body = await r.json();
        return body.key.description === 'Builds the weekly and monthly reports'
          && body.key.scopes.length === 2 && body.key.allowedIPs.length === 2 && body.key.version > 2;
      }, 'the description saved through the API');
      assert.equal(store.getKey(created.id).expiresAt.getTime() > now, true, 'the expiry is unchanged');
      await shot('09-key-saved', true);

      await role('button', 'nightly-sync').click();
      const nightlyDetails = role('region', 'nightly-sync');
      await role('textbox', 'Description', nightlyDetails).fill('Syncs sites nightly');
      assert.equal(await role('checkbox', 'deployments.sites', nightlyDetails).isChecked(), true);
      await role('button', 'Save', nightlyDetails).click();
      await eventually(() => store.getKey(nightly.key.id).description === 'Syncs sites nightly', 'the save');
      assert.deepEqual([...store.getKey(nightly.key.id).grants].sort(), ['deployments.sites:write', 'reports:read']);
      assert.deepEqual(store.getKey(nightly.key.id).networks, ['64.100.10.7']);
    });

    await t.test('delete: a confirmation whose Delete removes the key', async () => {
      await role('button', 'ci-reporting').click();
      const details = role('region', 'ci-reporting');
      await details.waitFor();
      await role('button', 'Delete', details).click();
      const confirm = role('dialog', 'Delete API Key');
      await confirm.waitFor();
      await shot('10-delete-confirm');
      await role('button', 'Delete', confirm).click();
      await gone(role('button', 'ci-reporting'));
      assert.throws(() => store.getKey(created.id), /no key with id/);
      await textIs(role('status', 'Keys expiring within 30 days'), '1');
    });

    await t.test('a 401 returns to the sign-in form', async () => {
      await store.deleteKey(admin.key.id);
      await role('searchbox', 'Search').fill('x');
      await role('button', 'Sign In').waitFor();
      assert.match(await page.getByRole('alert').textContent(), /Sign in again/);
    });

    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await browser.close();
    await stop();
  }
});

test('below an issuer path and without a catalog: grants in the Key Scope text box', async () => {
  const { store, origin, issuer, stop } = await serve({}, '/t');
  const browser = await launch();
  try {
    const admin = await store.createKey({ name: 'admin', grants: ['admin.apikeys:write'] });
    const page = await browser.newPage();
    page.setDefaultTimeout(20000);
    const problems = watch(page, origin);
    const role = (r, name, within = page) => within.getByRole(r, { name, exact: true });
    assert.equal((await fetch(`${origin}/admin/`)).status, 404, 'only below the issuer path');
    await page.goto(`${issuer}/admin/`);
    await role('textbox', 'API Key').fill(admin.key.id);
    await role('textbox', 'Key Secret').fill(admin.secret);
    await role('button', 'Sign In').click();
    await role('button', 'admin').waitFor();
    await textIs(role('status', 'Expired keys'), '0');
    await role('button', 'Add').click();
    const dialog = role('dialog', 'Add API Key');
    await role('textbox', 'Name', dialog).fill('reports, weekly');
    await role('textbox', 'Key Scope', dialog).fill('reports:read, deployments.sites:write');
    await role('button', 'Create Key', dialog).click();
    const done = role('dialog', 'API Key Created');
    const id = await role('textbox', 'API Key', done).inputValue();
    await role('button', 'Accept and Close', done).click();
    await role('button', 'reports, weekly').waitFor();
    assert.deepEqual([...store.getKey(id).grants].sort(), ['deployments.sites:write', 'reports:read']);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await stop();
  }
});
