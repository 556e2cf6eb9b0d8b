import type { RequestHandler } from 'express'
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
