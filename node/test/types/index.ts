// Type test of index.d.ts and express.d.ts: `npm run typecheck` (tsc --noEmit).
import { KeyStore, type ApiKey, type Principal, type Token, parseNetworks } from '../..'
import { requireScope, tokenHandler } from '../../express'
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
  void [expires, when, next, n, status, nets]
}
void main
