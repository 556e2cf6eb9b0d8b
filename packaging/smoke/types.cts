// tsc must see the CommonJS entry point's types (packaging/test_dist.sh).
import keyscope = require('keyscope');

export async function check(path: string, keyId: string, secret: string): Promise<string> {
  const store: keyscope.KeyStore = keyscope.KeyStore.open(path);
  const token: keyscope.Token = await store.issueToken(keyId, secret);
  const p: keyscope.Principal = store.authorize(token.accessToken, 'reports', 'write');
  return p.scope.join(' ');
}
