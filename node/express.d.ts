import type { IRouter, RequestHandler } from 'express'
import type { KeyStore, Principal } from './index'

declare global {
  namespace Express {
    interface Request {
      /** The authorized caller, set by `requireScope`. */
      keyscope?: Principal
    }
  }
}

/** Options of the Express helpers. */
export interface ExpressOptions {
  /** Proxies whose `X-Forwarded-For` is believed (default: the store's `trustedProxies`). */
  trustedProxies?: string[]
}

/**
 * Authorizes the request for `permission` on `resource`; sets `req.keyscope` or
 * answers 401/403 with the RFC 6750 `WWW-Authenticate` challenge.
 */
export declare function requireScope(store: KeyStore, resource: string, permission?: 'read' | 'write', options?: ExpressOptions): RequestHandler

/** Handler for `POST /auth/v2/token` (OAuth 2.0 client credentials). */
export declare function tokenHandler(store: KeyStore, options?: ExpressOptions): RequestHandler

/**
 * Handler answering every request with `store.handleHttp` (the token endpoint,
 * metadata, JWK Set, introspection, revocation and health routes): method, full path,
 * headers, peer address and body (read up to `MAX_BODY_BYTES`, no further) go in;
 * status, headers and body are copied back unchanged. `X-Forwarded-For` is resolved
 * by the store's `trustedProxies`.
 */
export declare function httpHandler(store: KeyStore): RequestHandler

/**
 * Mounts `httpHandler(store)` on one catch-all route of `router` (an app or a
 * Router); register it after the application's own routes. Returns `router`.
 */
export declare function mountHttp<R extends IRouter>(router: R, store: KeyStore): R
