// tsc must see the ESM entry point's types (packaging/test_dist.sh).
import keyscope, { KeyStore, type Principal, type Token } from 'keyscope';

export async function check(path: string, keyId: string, secret: string): Promise<string> {
  const store: KeyStore = keyscope.KeyStore.open(path);
  const token: Token = await store.issueToken(keyId, secret, { clientIp: '127.0.0.1' });
  const expires: Date = token.expiresAt;
  const p: Principal = store.authorize(token.accessToken, 'reports', 'read');
  store.close();
  return `${p.keyName} until ${expires.toISOString()}`;
}
