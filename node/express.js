'use strict';
// Express helpers for keyscope: a middleware that authorizes `Authorization: Bearer`
// requests, a handler for the OAuth 2.0 token endpoint (POST /auth/v2/token), and a
// catch-all route that hands every request to `store.handleHttp` (docs/http.md).
const { clientAddress, MAX_BODY_BYTES } = require('./index.js');

function clientIp(store, req, trustedProxies) {
  const peer = req.socket && req.socket.remoteAddress;
  if (!peer) return undefined;
  const forwarded = req.headers['x-forwarded-for'];
  const ip = trustedProxies
    ? clientAddress(peer, forwarded, trustedProxies)
    : store.clientAddress(peer, forwarded);
  return ip === null ? undefined : ip;
}

/**
 * Middleware: authorizes the request for `permission` on `resource`, puts the
 * principal on `req.keyscope`, or answers 401/403 with the RFC 6750 challenge.
 */
function requireScope(store, resource, permission = 'read', { trustedProxies } = {}) {
  return function keyscopeRequireScope(req, res, next) {
    try {
      req.keyscope = store.authorizeHeader(req.headers.authorization, resource, permission,
        { clientIp: clientIp(store, req, trustedProxies) });
    } catch (e) {
      if (!e.status) return next(e);
      if (e.wwwAuthenticate) res.set('WWW-Authenticate', e.wwwAuthenticate);
      return res.status(e.status).json({ error: e.code });
    }
    return next();
  };
}

function readBody(req) {
  if (Buffer.isBuffer(req.body) || typeof req.body === 'string') return Promise.resolve(req.body);
  if (req.body && typeof req.body === 'object') {
    return Promise.resolve(new URLSearchParams(req.body).toString());
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 64 * 1024) { reject(Object.assign(new Error('body too large'), { status: 413 })); req.destroy(); }
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Handler for the token endpoint; Argon2 runs on the libuv pool. */
function tokenHandler(store, { trustedProxies } = {}) {
  return async function keyscopeTokenEndpoint(req, res, next) {
    try {
      const body = await readBody(req);
      const r = await store.tokenEndpoint(req.headers.authorization, req.headers['content-type'], body,
        clientIp(store, req, trustedProxies));
      res.status(r.status).set(r.headers).send(r.body);
    } catch (e) {
      next(e);
    }
  };
}

// What `handleHttp` is given for a body longer than it reads: only its length counts
// (core answers 413 on its routes, 404 or 405 elsewhere), so the rest is never read.
const TOO_LARGE = Buffer.alloc(MAX_BODY_BYTES + 1);

/**
 * The body as bytes, read up to `limit`: `TOO_LARGE` as soon as it is longer (from
 * Content-Length before anything is read, else once the count passes the limit),
 * without reading further. A body a parser already read is taken as it left it (a
 * parsed form is encoded again).
 */
function readLimited(req, limit) {
  if (req._body || req.readableEnded) {
    const b = req.body;
    if (Buffer.isBuffer(b) || typeof b === 'string') return Promise.resolve(b);
    if (b && typeof b === 'object') return Promise.resolve(new URLSearchParams(b).toString());
    return Promise.resolve(Buffer.alloc(0));
  }
  if (Number(req.headers['content-length']) > limit) return Promise.resolve(TOO_LARGE);
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const settle = (fn, v) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      fn(v);
    };
    function onData(c) {
      size += c.length;
      if (size > limit) { req.pause(); settle(resolve, TOO_LARGE); } else chunks.push(c);
    }
    function onEnd() { settle(resolve, Buffer.concat(chunks, size)); }
    function onError(e) { settle(reject, e); }
    function onClose() { settle(reject, new Error('the request was aborted before its body ended')); }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** `req.rawHeaders` (names and values in order, repeats kept) as `[name, value]` pairs. */
function headerPairs(raw) {
  const pairs = [];
  for (let i = 0; i + 1 < raw.length; i += 2) pairs.push([raw[i], raw[i + 1]]);
  return pairs;
}

/**
 * Handler answering every request with `store.handleHttp`: method, full path
 * (`req.originalUrl`), headers, peer address and body go in; status, headers and
 * body come back unchanged (through Node's own `setHeader`, so Express adds no
 * charset). `X-Forwarded-For` is resolved by the store's `trustedProxies`.
 */
function httpHandler(store) {
  return async function keyscopeHttp(req, res, next) {
    let r;
    try {
      const body = await readLimited(req, MAX_BODY_BYTES);
      r = await store.handleHttp({ method: req.method, path: req.originalUrl || req.url,
        headers: req.rawHeaders ? headerPairs(req.rawHeaders) : req.headers, body, clientIp: req.socket && req.socket.remoteAddress });
      // A body left unread cannot be skipped to reach a next request on this connection.
      if (body === TOO_LARGE && !req.readableEnded) res.setHeader('Connection', 'close');
    } catch (e) {
      return next(e);
    }
    const headers = new Map();
    for (const [name, value] of r.headers) {
      const key = name.toLowerCase();
      if (headers.has(key)) headers.get(key)[1].push(value);
      else headers.set(key, [name, [value]]);
    }
    res.statusCode = r.status;
    for (const [name, values] of headers.values()) res.setHeader(name, values.length === 1 ? values[0] : values);
    res.end(r.body);
  };
}

/**
 * Mounts `httpHandler(store)` on one catch-all route of `router` (an app or a
 * Router): register it after the application's own routes, since keyscope answers
 * 404 for paths it does not serve. Returns `router`.
 */
function mountHttp(router, store) {
  router.all(/.*/, httpHandler(store));
  return router;
}

module.exports = { requireScope, tokenHandler, httpHandler, mountHttp };
