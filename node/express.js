'use strict';
// Express helpers for keyscope: a middleware that authorizes `Authorization: Bearer`
// requests, and a handler for the OAuth 2.0 token endpoint (POST /auth/v2/token).
const { clientAddress } = require('./index.js');

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

module.exports = { requireScope, tokenHandler };
