// Type test of index.d.ts and express.d.ts: `npm run typecheck` (tsc --noEmit).
import { KeyStore, type ApiKey, type HandleHttpResponse, type Principal, type SigningKeyInfo, type Token,
  MAX_BODY_BYTES, parseNetworks } from '../..'
import { httpHandler, mountHttp, requireScope, tokenHandler } from '../../express'
import express from 'express'

async function main(): Promise<void> {
  const store: KeyStore = KeyStore.open('keys.db', {
    catalog: 'secure_access',
    signingKeys: [{ kid: 'k1', secret: Buffer.alloc(32) }],
    allowPrivateNetworks: false,
    argon2: { memoryKib: 19456 },
  })
  const { key, secret } = await store.createKey({ name: 'ci', grants: ['reports:read'], networks: ['64.100.10.0/24'] })
  const k: ApiKey = key
  const expires: Date | null = k.expiresAt
  const tok: Token = await store.issueToken(key.id, secret, { clientIp: '64.100.10.7' })
  const p: Principal = store.authorize(tok.accessToken, 'reports', 'read', { clientIp: '64.100.10.7' })
  const when: Date = p.expiresAt
  store.updateKey(key.id, { description: null, expiresAt: null, expectedVersion: key.version })
  const page = store.listKeys({ status: 'expiring', limit: 10 })
  const next: string | null = page.nextCursor
  const s = store.summary({ within: 86400 })
  const n: number = s.expiringSoon
  const r = await store.tokenEndpoint(null, 'application/x-www-form-urlencoded', 'grant_type=client_credentials', '64.100.10.7')
  const status: number = r.status
  const nets: string[] = parseNetworks('64.100.10.7')
  const app = express()
  app.post('/auth/v2/token', tokenHandler(store))
  app.get('/r', requireScope(store, 'reports', 'read'), (req, res) => { res.json({ who: req.keyscope?.keyName }) })
  const signer = KeyStore.open('signed.db', { tokenAlg: 'EdDSA', keyEncryptionKey: Buffer.alloc(32), issuer: 'https://auth.example.com' })
  const keys: SigningKeyInfo[] = signer.signingKeys({ now: new Date() })
  const state: 'current' | 'next' | 'retired' = keys[0].state
  const retiredAt: Date | null = keys[0].retiredAt
  const jwk: Record<string, string> | null = keys[0].publicJwk
  const rotated: SigningKeyInfo = signer.rotateSigningKey({ alg: 'RS256', actor: 'ops' })
  signer.retireSigningKey(rotated.kid, { immediately: true, actor: 'ops' })
  // @ts-expect-error: not an algorithm keyscope signs with
  signer.rotateSigningKey({ alg: 'none' })
  // @ts-expect-error: headers are strings
  void signer.handleHttp({ method: 'GET', path: '/', headers: { a: 1 } })
  const set: string = signer.jwks()
  const doc: string = signer.metadata()
  const revoked: boolean = signer.revokeToken(tok.accessToken)
  const answer: HandleHttpResponse = await signer.handleHttp({ method: 'GET', path: '/healthz', headers: { accept: ['*/*'], x: undefined },
    body: Buffer.alloc(0), clientIp: '64.100.10.7', now: new Date() })
  await signer.handleHttp({ method: 'POST', path: '/auth/v2/token', headers: [['content-type', 'application/x-www-form-urlencoded']], body: 'grant_type=client_credentials' })
  await signer.handleHttp({ method: 'GET', path: '/healthz', body: new Uint8Array(0), clientIp: null })
  const pairs: Array<[string, string]> = answer.headers
  const bytes: Buffer = answer.body
  const limit: number = MAX_BODY_BYTES
  app.post('/x', httpHandler(signer))
  const same: typeof app = mountHttp(app, signer)
  mountHttp(express.Router(), signer)
  void [expires, when, next, n, status, nets, state, retiredAt, jwk, set, doc, revoked, pairs, bytes, limit, same]
}
void main
