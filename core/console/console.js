// keyscope's key console: Cisco Secure Access's Admin > API Keys page over the Key
// Admin API (docs/console.md). Plain JavaScript, no dependencies, nothing inline: the
// page runs under a Content-Security-Policy of 'self' only.
//
// The access token lives in this closure only (never in storage or a cookie). A key
// secret is written into the show-once dialog's text box and nowhere else; the dialog
// is removed from the page when it closes.
'use strict';

(() => {
  // --- Where the API is: the console is served at <base>/admin/ ----------------------
  const here = window.location.pathname;
  const BASE = here.slice(0, Math.max(0, here.lastIndexOf('/admin/')));
  const TOKEN_URL = `${BASE}/auth/v2/token`;
  const API = `${BASE}/admin/v2`;

  const ZERO_INSTANT = '0001-01-01T00:00:00Z';
  const MAX_NAME = 255;
  const MAX_NETWORKS = 10;
  const DAY_MS = 86400000;

  let token = null; // the access token, in memory only
  let tokenTimer = null;
  let catalog; // undefined: not loaded; null: no catalog; else scope -> resource -> max
  let keys = [];
  let openId = null; // the key shown expanded
  let listSeq = 0;
  let uid = 0;

  const $ = (id) => document.getElementById(id);
  const nextId = (p) => `${p}-${++uid}`;

  /** An element: el('div', {class: 'x', text: 'y'}, children...). */
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
      else if (v === true) e.setAttribute(k, '');
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  // --- Errors shown next to a field ---------------------------------------------------
  /** A slot after a field where its one alert goes; `field` gets aria-describedby. */
  function errorSlot(field) {
    const slot = el('div', { class: 'error-slot' });
    slot.show = (message) => {
      slot.clear();
      if (!message) return;
      const id = nextId('err');
      const alert = el('p', { class: 'field-error', role: 'alert', id }, message);
      slot.append(alert);
      if (field) {
        field.setAttribute('aria-invalid', 'true');
        field.setAttribute('aria-describedby', [field.dataset.hint, id].filter(Boolean).join(' '));
      }
    };
    slot.clear = () => {
      slot.replaceChildren();
      if (field) {
        field.removeAttribute('aria-invalid');
        if (field.dataset.hint) field.setAttribute('aria-describedby', field.dataset.hint);
        else field.removeAttribute('aria-describedby');
      }
    };
    return slot;
  }

  let toastTimer = null;
  function toast(message) {
    const t = $('toast');
    t.textContent = message;
    t.classList.add('shown');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.classList.remove('shown'); t.textContent = ''; }, 4000);
  }

  // --- Talking to the server ----------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super((body && (body.description || body.error_description)) || `the server answered ${status}`);
      this.status = status;
      this.field = body && body.field;
      this.code = body && (body.code || body.error);
    }
  }
  class SessionEnded extends Error {}

  async function api(method, path, body, version) {
    if (!token) throw new SessionEnded('not signed in');
    const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (version !== undefined) headers['If-Match'] = `"${version}"`;
    let r;
    try {
      r = await fetch(API + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer',
      });
    } catch {
      throw new ApiError(0, { description: 'The key server did not answer. Check the connection and try again.' });
    }
    if (r.status === 401) {
      signOut('Your session has ended. Sign in again.');
      throw new SessionEnded('401');
    }
    const data = r.status === 204 ? null : await r.json().catch(() => null);
    if (!r.ok) {
      if (r.status === 403 && data) data.description = `This API key may not do that: ${data.description || 'it needs admin.apikeys:write'}.`;
      throw new ApiError(r.status, data);
    }
    return data;
  }

  // --- Signing in and out -------------------------------------------------------------
  const signinError = errorSlot(null);

  function showView(name) {
    $('signin-view').hidden = name !== 'signin';
    $('keys-view').hidden = name !== 'keys';
    $('session').hidden = name !== 'keys';
  }

  function signOut(message) {
    token = null;
    clearTimeout(tokenTimer);
    catalog = undefined;
    keys = [];
    openId = null;
    for (const d of document.querySelectorAll('dialog')) { d.close(); d.remove(); }
    $('keys-body').replaceChildren();
    $('who').textContent = '';
    showView('signin');
    signinError.show(message || '');
    $('signin-key').focus();
  }

  async function signIn(ev) {
    ev.preventDefault();
    const idBox = $('signin-key');
    const secretBox = $('signin-secret');
    const clientId = idBox.value.trim();
    signinError.clear();
    if (!clientId || !secretBox.value) {
      signinError.show('Enter the API Key and its Key Secret.');
      return;
    }
    const button = $('signin-button');
    button.disabled = true;
    try {
      const form = new URLSearchParams();
      form.set('grant_type', 'client_credentials');
      form.set('client_id', clientId);
      form.set('client_secret', secretBox.value);
      let r;
      try {
        r = await fetch(TOKEN_URL, {
          method: 'POST', body: form, cache: 'no-store', credentials: 'omit',
          redirect: 'error', referrerPolicy: 'no-referrer', headers: { Accept: 'application/json' },
        });
      } catch {
        signinError.show('The key server did not answer. Check the connection and try again.');
        return;
      }
      const data = await r.json().catch(() => ({}));
      if (!r.ok || !data.access_token) {
        const why = {
          invalid_client: 'The API Key or Key Secret is not valid, or the key is expired, disabled or not allowed from this network.',
          rate_limited: 'Too many failed attempts for this key. Wait a minute and try again.',
        }[data.error] || data.error_description || `Sign-in failed (${r.status}).`;
        signinError.show(r.status === 429 ? 'Too many attempts. Wait a minute and try again.' : why);
        return;
      }
      secretBox.value = '';
      token = data.access_token;
      const ttl = Number(data.expires_in) || 3600;
      clearTimeout(tokenTimer);
      tokenTimer = setTimeout(() => signOut('Your session has ended. Sign in again.'), ttl * 1000);
      $('who').textContent = `Signed in as ${clientId}`;
      showView('keys');
      await loadCatalog();
      await loadKeys();
      $('add-key').focus();
    } catch (e) {
      if (!(e instanceof SessionEnded)) signinError.show(e.message);
    } finally {
      button.disabled = false;
    }
  }

  async function loadCatalog() {
    const data = await api('GET', '/catalog');
    catalog = data && data.scopes ? data.scopes : null;
  }

  // --- Formatting ---------------------------------------------------------------------
  const dateFmt = new Intl.DateTimeFormat('en-US', { dateStyle: 'medium', timeZone: 'UTC' });
  /** `Dec 2, 2026 14:05 UTC`. */
  function instantText(t) {
    const d = new Date(t);
    return `${dateFmt.format(d)} ${d.toISOString().slice(11, 16)} UTC`;
  }

  /** The Expiry Date of an expireAt: the last day the key works when it stops at 00:00 UTC. */
  function expiryDay(expireAt) {
    const t = Date.parse(expireAt);
    if (Number.isNaN(t)) return null;
    const midnight = t % DAY_MS === 0;
    return new Date(midnight ? t - DAY_MS : t).toISOString().slice(0, 10);
  }
  function expiryText(expireAt) {
    if (!expireAt) return 'Never expire';
    const t = Date.parse(expireAt);
    if (t % DAY_MS === 0) return dateFmt.format(new Date(t - DAY_MS));
    return instantText(t);
  }
  function lastUsedText(at) {
    if (!at || at === ZERO_INSTANT) return 'Never';
    return instantText(at);
  }
  const STATUS = { active: 'Active', expired: 'Expired', disabled: 'Disabled' };
  function grantText(g) {
    const [target, perm] = g.split(':');
    return `${target} · ${perm === 'write' ? 'Read / Write' : 'Read-Only'}`;
  }

  // --- The key list -------------------------------------------------------------------
  let searchTimer = null;
  function onSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { loadKeys().catch(() => {}); }, 200);
  }

  const listError = errorSlot(null);

  async function loadKeys() {
    const seq = ++listSeq;
    const q = new URLSearchParams({ limit: '0' });
    const search = $('search').value.trim();
    if (search) q.set('search', search);
    let data;
    try {
      data = await api('GET', `/apiKeys?${q}`);
    } catch (e) {
      if (!(e instanceof SessionEnded) && seq === listSeq) listError.show(e.message);
      throw e;
    }
    if (seq !== listSeq) return;
    listError.clear();
    keys = data.keys || [];
    const s = data.summary || {};
    $('count-expired').textContent = String(s.expired ?? 0);
    $('count-expiring').textContent = String(s.expiringSoon ?? 0);
    $('key-total').textContent = `${data.total} of ${s.total ?? data.total} keys`;
    renderKeys();
  }

  function renderKeys() {
    const body = $('keys-body');
    body.replaceChildren();
    $('keys-empty').hidden = keys.length > 0;
    if (!keys.some((k) => k.id === openId)) openId = null;
    for (const key of keys) {
      const detailId = `detail-${key.id}`;
      const open = key.id === openId;
      const scopes = key.scopes.slice(0, 3).map((g) => el('span', { class: 'chip', text: grantText(g) }));
      if (key.scopes.length > 3) scopes.push(el('span', { class: 'more', text: `+${key.scopes.length - 3} more` }));
      const row = el('tr', { class: open ? 'key-row open' : 'key-row' },
        el('th', { scope: 'row' },
          el('button', {
            type: 'button', class: 'disclosure', 'aria-expanded': open ? 'true' : 'false',
            'aria-controls': detailId, on: { click: () => toggleKey(key.id) },
          }, el('span', { class: 'caret', 'aria-hidden': 'true' }), key.name)),
        el('td', { class: 'desc', text: key.description || '—' }),
        el('td', { class: 'scopes', title: key.scopes.join('\n') }, scopes),
        el('td', { title: key.expireAt ? `Stops working at ${key.expireAt.replace('T', ' ').replace('Z', ' UTC')}` : undefined, text: expiryText(key.expireAt) }),
        el('td', {}, el('span', { class: `badge status-${key.status}`, text: STATUS[key.status] || key.status })),
        el('td', { text: lastUsedText(key.lastUsedAt) }),
        el('td', { class: 'networks', text: key.allowedIPs.length ? key.allowedIPs.join(', ') : 'Any' }));
      body.append(row);
      const detail = el('tr', { class: 'detail', id: detailId, hidden: !open });
      if (open) detail.append(el('td', { colspan: '7' }, keyDetail(key)));
      body.append(detail);
    }
  }

  function toggleKey(id) {
    openId = openId === id ? null : id;
    renderKeys();
    const button = document.querySelector(`[aria-controls="detail-${CSS.escape(id)}"]`);
    if (button) button.focus();
  }

  // --- The fields of a key, in Add and in a key's details -----------------------------
  /** Field ids of the API's errors (`scopes[2]` → `scopes`). */
  const fieldOf = (f) => (f || '').replace(/\[\d+\]$/, '');

  function field(label, input, hintText) {
    const id = input.id || nextId('f');
    input.id = id;
    const parts = [el('label', { for: id, text: label })];
    if (hintText) {
      const hid = nextId('hint');
      input.dataset.hint = hid;
      input.setAttribute('aria-describedby', hid);
      parts.push(el('p', { class: 'hint', id: hid, text: hintText }));
    }
    const slot = errorSlot(input);
    return { wrap: el('div', { class: 'field' }, parts[0], input, parts[1], slot), slot };
  }

  // Networks that are not globally reachable (core's list, IPv4 in full, IPv6 roughly);
  // the API's own check is the one that counts.
  const PRIVATE_V4 = [
    ['0.0.0.0', 8, 'this network'], ['10.0.0.0', 8, 'private use'], ['100.64.0.0', 10, 'shared address space'],
    ['127.0.0.0', 8, 'loopback'], ['169.254.0.0', 16, 'link local'], ['172.16.0.0', 12, 'private use'],
    ['192.0.0.0', 24, 'IETF protocol assignments'], ['192.0.2.0', 24, 'documentation'],
    ['192.88.99.0', 24, '6to4 relay'], ['192.168.0.0', 16, 'private use'], ['198.18.0.0', 15, 'benchmarking'],
    ['198.51.100.0', 24, 'documentation'], ['203.0.113.0', 24, 'documentation'], ['224.0.0.0', 4, 'multicast'],
    ['240.0.0.0', 4, 'reserved'],
  ];
  function v4(text) {
    const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
    if (!m) return null;
    const o = m.slice(1).map(Number);
    if (o.some((x) => x > 255)) return null;
    return ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
  }
  /** Why `text` is refused, or null when it looks like a public network. */
  function networkProblem(text) {
    const [addr, prefixText, extra] = text.split('/');
    if (extra !== undefined) return `${text} is not an IP address or CIDR network.`;
    if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return `${text} has no valid prefix length.`;
    const a = v4(addr);
    if (a !== null) {
      const prefix = prefixText === undefined ? 32 : Number(prefixText);
      if (prefix > 32) return `${text}: an IPv4 prefix is at most /32.`;
      for (const [base, bits, what] of PRIVATE_V4) {
        const b = v4(base);
        const common = Math.min(bits, prefix);
        const mask = common === 0 ? 0 : (~0 << (32 - common)) >>> 0;
        if (((a & mask) >>> 0) === ((b & mask) >>> 0)) {
          return `${text} is a private network (${base}/${bits}, ${what}): use networks reachable from the internet.`;
        }
      }
      return null;
    }
    if (addr.includes(':') && /^[0-9a-fA-F:.]+$/.test(addr) && addr.split('::').length <= 2) {
      const prefix = prefixText === undefined ? 128 : Number(prefixText);
      if (prefix > 128) return `${text}: an IPv6 prefix is at most /128.`;
      const lower = addr.toLowerCase();
      if (/^f[cd]/.test(lower) || /^fe[89ab]/.test(lower) || lower.startsWith('ff') || lower.startsWith('::')
        || lower.startsWith('2001:db8:') || lower === '2001:db8') {
        return `${text} is a private network: use networks reachable from the internet.`;
      }
      return null;
    }
    return `${text} is not an IP address or CIDR network.`;
  }

  /**
   * The form of a key: Name, Description, Key Scope, Expiry Date / Never expire,
   * Network Restrictions. `key` fills it for editing. Returns the element, a reader
   * (the request body, or null after showing why not) and a way to show API errors.
   */
  function keyForm(key) {
    const slots = {};
    const nameInput = el('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
    nameInput.value = key ? key.name : '';
    const name = field('Name', nameInput,
      'Fewer than 256 characters. Cisco\'s generated clients read only names of letters, digits, spaces and : . _ + = (a bug in their pattern refuses - and ,); keyscope accepts more, but such names break those clients.');
    slots.name = name.slot;
    nameInput.addEventListener('input', () => {
      const n = [...nameInput.value].length;
      if (n > MAX_NAME) name.slot.show(nameProblem(nameInput.value));
      else name.slot.clear();
    });

    const descInput = el('textarea', { rows: '2' });
    descInput.value = key ? key.description : '';
    const desc = field('Description', descInput, 'Optional.');
    slots.description = desc.slot;

    // Key Scope
    const scopeSet = el('fieldset', { class: 'scopes-field' }, el('legend', { text: 'Key Scope' }));
    const held = new Map((key ? key.scopes : []).map((g) => { const [t, p] = g.split(':'); return [t, p]; }));
    const kept = []; // grants outside the catalog, kept as they are
    const choices = []; // {target, checkbox, radios}
    let scopeText = null;
    if (catalog) {
      scopeSet.append(el('p', { class: 'hint', text: 'Select the scopes this key may use and, for each, Read-Only or Read / Write.' }));
      const known = new Set();
      const tree = el('ul', { class: 'scope-tree' });
      for (const scope of Object.keys(catalog).sort()) {
        const listId = nextId('scope');
        const resources = Object.keys(catalog[scope]).sort();
        const count = el('span', { class: 'count-badge' });
        const list = el('ul', { class: 'resources', id: listId, hidden: true });
        const toggle = el('button', { type: 'button', class: 'scope-toggle', 'aria-expanded': 'false', 'aria-controls': listId },
          el('span', { class: 'caret', 'aria-hidden': 'true' }), scope);
        toggle.addEventListener('click', () => {
          const open = toggle.getAttribute('aria-expanded') !== 'true';
          toggle.setAttribute('aria-expanded', String(open));
          list.hidden = !open;
        });
        const updateCount = () => {
          const n = choices.filter((c) => c.scope === scope && c.checkbox.checked).length;
          count.textContent = n ? `${n} selected` : '';
        };
        for (const resource of resources) {
          const target = `${scope}.${resource}`;
          known.add(target);
          const max = catalog[scope][resource];
          const cbId = nextId('res');
          const checkbox = el('input', { type: 'checkbox', id: cbId });
          const group = el('div', { role: 'radiogroup', 'aria-label': target, class: 'perm' });
          const radioName = nextId('perm');
          const radios = {};
          for (const [value, label] of [['read', 'Read-Only'], ['write', 'Read / Write']]) {
            if (value === 'write' && max !== 'write') continue;
            const rid = nextId('r');
            const radio = el('input', { type: 'radio', name: radioName, value, id: rid });
            radios[value] = radio;
            group.append(el('span', { class: 'radio' }, radio, el('label', { for: rid, text: label })));
          }
          const perm = held.get(target);
          if (perm && (perm === 'read' || (perm === 'write' && radios.write))) {
            checkbox.checked = true;
            radios[perm].checked = true;
          } else {
            radios.read.checked = true;
          }
          group.hidden = !checkbox.checked;
          checkbox.addEventListener('change', () => { group.hidden = !checkbox.checked; updateCount(); slots.scopes.clear(); });
          choices.push({ scope, target, checkbox, radios });
          list.append(el('li', { class: 'resource' },
            el('span', { class: 'check' }, checkbox, el('label', { for: cbId, text: target })), group));
        }
        updateCount();
        if (count.textContent) { toggle.setAttribute('aria-expanded', 'true'); list.hidden = false; }
        tree.append(el('li', { class: 'scope' }, el('div', { class: 'scope-head' }, toggle, count), list));
      }
      scopeSet.append(tree);
      for (const [t, p] of held) {
        const c = choices.find((x) => x.target === t);
        if (!c || (p === 'write' && !c.radios.write)) kept.push(`${t}:${p}`);
      }
      if (kept.length) {
        scopeSet.append(el('p', { class: 'hint kept' }, 'Also held, outside the catalog, and kept on save: ',
          el('code', { text: kept.join(', ') })));
      }
    } else {
      const id = nextId('grants');
      scopeText = el('input', { type: 'text', id, 'aria-label': 'Key Scope', spellcheck: 'false', autocomplete: 'off' });
      scopeText.value = key ? key.scopes.join(', ') : '';
      const hid = nextId('hint');
      scopeText.dataset.hint = hid;
      scopeText.setAttribute('aria-describedby', hid);
      scopeSet.append(scopeText, el('p', { class: 'hint', id: hid, text: 'Grants, comma- or space-separated: reports:read, deployments.networks:write.' }));
    }
    slots.scopes = errorSlot(scopeText);
    scopeSet.append(slots.scopes);

    // Expiry Date / Never expire
    const dateInput = el('input', { type: 'date' });
    const never = el('input', { type: 'checkbox', id: nextId('never') });
    const day = key && key.expireAt ? expiryDay(key.expireAt) : null;
    never.checked = !day;
    dateInput.value = day || '';
    dateInput.disabled = never.checked;
    dateInput.addEventListener('change', () => slots.expireAt.clear());
    never.addEventListener('change', () => {
      slots.expireAt.clear();
      dateInput.disabled = never.checked;
      if (!never.checked) dateInput.focus();
    });
    const expiry = field('Expiry Date', dateInput, 'The key stops working at 00:00 UTC of the day after this date.');
    expiry.wrap.insertBefore(el('span', { class: 'check never' }, never, el('label', { for: never.id, text: 'Never expire' })), expiry.slot);
    slots.expireAt = expiry.slot;
    const expiryStart = { never: never.checked, date: dateInput.value };

    // Network Restrictions
    const networks = key ? [...key.allowedIPs] : [];
    const netInput = el('input', { type: 'text', 'aria-label': 'Network Restrictions', spellcheck: 'false', autocomplete: 'off', placeholder: '64.100.10.7, 2001:4860::/32' });
    const netHint = nextId('hint');
    netInput.dataset.hint = netHint;
    netInput.setAttribute('aria-describedby', netHint);
    const netAdd = el('button', { type: 'button', class: 'secondary', text: 'Add' });
    const netList = el('ul', { class: 'network-list' });
    slots.allowedIPs = errorSlot(netInput);
    const renderNetworks = () => {
      netList.replaceChildren(...networks.map((n) => el('li', { class: 'chip network' },
        el('span', { text: n }),
        el('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${n}`, title: `Remove ${n}`,
          on: { click: () => { networks.splice(networks.indexOf(n), 1); renderNetworks(); slots.allowedIPs.clear(); netInput.focus(); } } }, '×'))));
    };
    /** Adds the text box's networks; false (and the reason shown) when refused. */
    const addNetworks = () => {
      const entries = netInput.value.split(',').map((s) => s.trim()).filter(Boolean);
      slots.allowedIPs.clear();
      if (!entries.length) return true;
      for (const n of entries) {
        const why = networkProblem(n);
        if (why) { slots.allowedIPs.show(why); return false; }
        if (networks.includes(n) || entries.indexOf(n) !== entries.lastIndexOf(n)) {
          slots.allowedIPs.show(`${n} is already in the list.`);
          return false;
        }
      }
      if (networks.length + entries.length > MAX_NETWORKS) {
        slots.allowedIPs.show(`A key takes at most ${MAX_NETWORKS} networks; this would make ${networks.length + entries.length}.`);
        return false;
      }
      networks.push(...entries);
      netInput.value = '';
      renderNetworks();
      return true;
    };
    netAdd.addEventListener('click', addNetworks);
    netInput.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); addNetworks(); } });
    renderNetworks();
    const netSet = el('fieldset', { class: 'networks-field' }, el('legend', { text: 'Network Restrictions' }),
      el('p', { class: 'hint', id: netHint, text: `Optional: up to ${MAX_NETWORKS} IP addresses or CIDR networks the key may be used from, comma-separated. None: any address.` }),
      el('div', { class: 'inline' }, netInput, netAdd), slots.allowedIPs, netList);

    slots.general = errorSlot(null);

    const element = el('div', { class: 'key-form' }, name.wrap, desc.wrap, scopeSet, expiry.wrap, netSet, slots.general);

    function clear() { for (const s of Object.values(slots)) s.clear(); }

    /** The body to send, or null after showing the first problem next to its field. */
    function read() {
      clear();
      let ok = true;
      const why = nameProblem(nameInput.value);
      if (why) { slots.name.show(why); ok = false; }
      let scopes;
      if (catalog) {
        scopes = choices.filter((c) => c.checkbox.checked)
          .map((c) => `${c.target}:${c.radios.write && c.radios.write.checked ? 'write' : 'read'}`)
          .concat(kept);
      } else {
        scopes = scopeText.value.split(/[\s,]+/).filter(Boolean);
      }
      if (!scopes.length) { slots.scopes.show('Select at least one scope.'); ok = false; }
      let expireAt = '';
      if (!never.checked) {
        const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateInput.value);
        if (!m) {
          slots.expireAt.show('Choose an Expiry Date, or Never expire.');
          ok = false;
        } else {
          const stop = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1);
          if (stop <= Date.now()) {
            slots.expireAt.show('The Expiry Date must be today or later.');
            ok = false;
          }
          expireAt = new Date(stop).toISOString().replace('.000Z', 'Z');
        }
      }
      if (netInput.value.trim() && !addNetworks()) ok = false;
      if (!ok) {
        const first = element.querySelector('[aria-invalid="true"]');
        if (first) first.focus();
        return null;
      }
      const body = { name: nameInput.value, description: descInput.value, scopes, allowedIPs: [...networks] };
      const expiryChanged = never.checked !== expiryStart.never || dateInput.value !== expiryStart.date;
      if (!key || expiryChanged) body.expireAt = expireAt;
      return body;
    }

    /** Shows an API error next to the field it names. */
    function showError(e) {
      const slot = slots[fieldOf(e.field)] || slots.general;
      slot.show(e.message);
      const target = element.querySelector('[aria-invalid="true"]');
      if (target) target.focus();
    }

    return { element, read, showError, clear };
  }

  function nameProblem(name) {
    const n = [...name].length;
    if (!name.trim()) return 'Enter a name.';
    if (n > MAX_NAME) return `The name has ${n} characters: it must have fewer than 256.`;
    // The library's rules too (docs/keys.md): no control or format characters, and no
    // whitespace at either end.
    if (/[\p{Cc}\p{Cf}]/u.test(name)) return 'The name must not contain control or invisible formatting characters.';
    if (/^\s|\s$/u.test(name)) return 'The name must not start or end with a space.';
    return null;
  }

  // --- Dialogs ------------------------------------------------------------------------
  /** A modal <dialog> labelled by its heading, removed from the page when it closes. */
  function dialog(title, cls, ...content) {
    const hid = nextId('dlg');
    const d = el('dialog', { 'aria-labelledby': hid, class: cls },
      el('div', { class: 'dialog-head' }, el('h2', { id: hid, text: title }),
        el('button', { type: 'button', class: 'close', 'aria-label': 'Close', on: { click: () => d.close() } }, '×')),
      ...content);
    d.addEventListener('close', () => d.remove());
    // Tab and Shift+Tab cycle inside the dialog.
    d.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Tab') return;
      const items = [...d.querySelectorAll('button, input, textarea, select')]
        .filter((x) => !x.disabled && x.getClientRects().length > 0 && (x.type !== 'radio' || x.checked));
      if (!items.length) return;
      const first = items[0];
      const last = items[items.length - 1];
      if (ev.shiftKey && (document.activeElement === first || !d.contains(document.activeElement))) {
        ev.preventDefault();
        last.focus();
      } else if (!ev.shiftKey && (document.activeElement === last || !d.contains(document.activeElement))) {
        ev.preventDefault();
        first.focus();
      }
    });
    document.body.append(d);
    return d;
  }

  function openAdd() {
    const form = keyForm(null);
    const create = el('button', { type: 'submit', class: 'primary', text: 'Create Key' });
    const cancel = el('button', { type: 'button', class: 'secondary', text: 'Cancel' });
    const f = el('form', { novalidate: true }, el('div', { class: 'dialog-body' }, form.element),
      el('div', { class: 'dialog-foot' }, cancel, create));
    const d = dialog('Add API Key', 'wide', f);
    cancel.addEventListener('click', () => d.close());
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = form.read();
      if (!body) return;
      if (!body.description) delete body.description;
      create.disabled = true;
      try {
        const data = await api('POST', '/apiKeys', body);
        d.close();
        openId = null;
        showSecret('API Key Created', data);
        loadKeys().catch(() => {});
      } catch (e) {
        if (!(e instanceof SessionEnded)) form.showError(e);
      } finally {
        create.disabled = false;
      }
    });
    d.showModal();
  }

  /**
   * The show-once dialog: the API Key and its Key Secret in read-only text boxes. The
   * secret goes into the box and is dropped from `data`; closing removes the dialog.
   */
  function showSecret(title, data) {
    const keyBox = el('input', { type: 'text', readonly: true, id: nextId('key'), spellcheck: 'false' });
    const secretBox = el('input', { type: 'text', readonly: true, id: nextId('secret'), spellcheck: 'false', autocomplete: 'off' });
    keyBox.value = data.key.clientId;
    secretBox.value = data.key.clientSecret;
    delete data.key.clientSecret;
    const copied = el('p', { class: 'copied', role: 'status' });
    const copyButton = (box, what) => el('button', { type: 'button', class: 'secondary', text: 'Copy', on: { click: () => copy(box, what, copied) } });
    const row = (label, box, what) => {
      const lid = nextId('lbl');
      return el('div', { class: 'field', role: 'group', 'aria-labelledby': lid },
        el('label', { id: lid, for: box.id, text: label }),
        el('div', { class: 'inline' }, box, copyButton(box, what)));
    };
    const accept = el('button', { type: 'button', class: 'primary', text: 'Accept and Close' });
    const d = dialog(title, 'secret-dialog',
      el('div', { class: 'dialog-body' },
        el('p', { class: 'notice' }, el('strong', { text: 'Copy the Key Secret now. ' }),
          'For security reasons it is only displayed once: if lost, it cannot be retrieved — refresh the key to get a new one.'),
        row('API Key', keyBox, 'API Key'), row('Key Secret', secretBox, 'Key Secret'), copied),
      el('div', { class: 'dialog-foot' }, accept));
    accept.addEventListener('click', () => d.close());
    d.addEventListener('close', () => { secretBox.value = ''; keyBox.value = ''; });
    d.showModal();
    secretBox.focus();
    secretBox.select();
  }

  async function copy(box, what, status) {
    try {
      await navigator.clipboard.writeText(box.value);
    } catch {
      box.focus();
      box.select();
      document.execCommand('copy');
    }
    status.textContent = `${what} copied.`;
  }

  /** A confirmation dialog whose `label` button runs `action` (errors stay in it). */
  function confirmDialog(title, text, label, action, danger) {
    const go = el('button', { type: 'button', class: danger ? 'danger' : 'primary', text: label });
    const cancel = el('button', { type: 'button', class: 'secondary', text: 'Cancel', autofocus: true });
    const slot = errorSlot(null);
    const d = dialog(title, 'confirm', el('div', { class: 'dialog-body' }, el('p', { text }), slot),
      el('div', { class: 'dialog-foot' }, cancel, go));
    cancel.addEventListener('click', () => d.close());
    go.addEventListener('click', async () => {
      go.disabled = true;
      slot.clear();
      try {
        await action(d);
      } catch (e) {
        if (!(e instanceof SessionEnded)) slot.show(e.message);
      } finally {
        go.disabled = false;
      }
    });
    d.showModal();
  }

  // --- A key, expanded ----------------------------------------------------------------
  function keyDetail(key) {
    const form = keyForm(key);
    const save = el('button', { type: 'submit', class: 'primary', text: 'Save' });
    const refresh = el('button', { type: 'button', class: 'secondary', text: 'Refresh Key' });
    const del = el('button', { type: 'button', class: 'danger-outline', text: 'Delete' });
    const meta = el('dl', { class: 'meta' },
      el('dt', { text: 'API Key' }), el('dd', {}, el('code', { text: key.clientId })),
      el('dt', { text: 'Created' }), el('dd', { text: `${lastUsedText(key.createdAt)}${key.creatorName ? ` by ${key.creatorName}` : ''}` }),
      el('dt', { text: 'Last Refreshed' }), el('dd', { text: lastUsedText(key.lastRefreshedAt) }),
      el('dt', { text: 'Modified' }), el('dd', { text: lastUsedText(key.modifiedAt) }));
    const f = el('form', { class: 'detail-form', novalidate: true },
      el('div', { class: 'detail-top' }, meta, el('div', { class: 'detail-actions' }, refresh)),
      form.element,
      el('div', { class: 'detail-foot' }, del, el('span', { class: 'spacer' }), save));
    const section = el('section', { class: 'key-detail', 'aria-label': key.name }, f);
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = form.read();
      if (!body) return;
      save.disabled = true;
      try {
        await api('PATCH', `/apiKeys/${encodeURIComponent(key.id)}`, body, key.version);
        toast(`Saved ${body.name}.`);
        await loadKeys();
        const again = document.querySelector(`#detail-${CSS.escape(key.id)} button[type="submit"]`);
        if (again) again.focus();
      } catch (e) {
        if (!(e instanceof SessionEnded)) {
          if (e.status === 412) e.message = 'This key was changed elsewhere since it was loaded. Collapse and expand it to see the current version, then try again.';
          form.showError(e);
        }
      } finally {
        save.disabled = false;
      }
    });
    refresh.addEventListener('click', () => confirmDialog('Refresh Key',
      `Refreshing ${key.name} issues a new Key Secret; the current one stops working at once.`,
      'Refresh Key', async (d) => {
        const data = await api('POST', `/apiKeys/${encodeURIComponent(key.id)}/refresh`, {}, key.version);
        d.close();
        showSecret('API Key Refreshed', data);
        loadKeys().catch(() => {});
      }));
    del.addEventListener('click', () => confirmDialog('Delete API Key',
      `Delete ${key.name}? Applications using it stop working at once. This cannot be undone.`,
      'Delete', async (d) => {
        await api('DELETE', `/apiKeys/${encodeURIComponent(key.id)}`, undefined, key.version);
        d.close();
        openId = null;
        toast(`Deleted ${key.name}.`);
        await loadKeys();
        $('add-key').focus();
      }, true));
    return section;
  }

  // --- Start --------------------------------------------------------------------------
  $('signin-form').addEventListener('submit', signIn);
  $('signin-form').querySelector('.form-error').append(signinError);
  $('list-error-slot').append(listError);
  $('sign-out').addEventListener('click', () => signOut(''));
  $('search').addEventListener('input', onSearch);
  $('add-key').addEventListener('click', openAdd);
  showView('signin');
  $('signin-key').focus();
})();
