'use strict';
// Interop with clients no one here wrote, against a real HTTP server whose handler is
// store.handleHttp: oauth4webapi (RFC 8414 discovery, the client-credentials grant,
// RFC 9068 validation, RFC 7662 introspection, RFC 7009 revocation) and jose (a
// remote JWK Set), for each algorithm the store generates, and across a rotation.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { KeyStore } = require('..');
const { CHEAP, memLocation, serveHttp } = require('./helpers');

const ALGS = ['ES256', 'EdDSA', 'RS256'];

/** A store signing with `alg` behind a loopback server (see helpers.serveHttp). */
function serve(alg) {
  return serveHttp((issuer) => KeyStore.open(memLocation(), { issuer, tokenAlg: alg, argon2: CHEAP }));
}

for (const alg of ALGS) {
  test(`${alg}: oauth4webapi discovers, gets a token and validates it (RFC 9068); jose verifies it from the JWK Set`, async () => {
    const oauth = await import('oauth4webapi');
    const jose = await import('jose');
    const insecure = { [oauth.allowInsecureRequests]: true };
    const { store, issuer, stop } = await serve(alg);
    try {
      const { key, secret } = await store.createKey({ name: 'svc', grants: ['reports:read', 'deployments:write'] });
      const issuerUrl = new URL(issuer);
      const as = await oauth.processDiscoveryResponse(issuerUrl,
        await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', ...insecure }));
      assert.equal(as.issuer, issuer);
      assert.equal(as.token_endpoint, `${issuer}/auth/v2/token`);
      const client = { client_id: key.id };
      // Both authentication methods the metadata advertises, one per algorithm in turn.
      const auth = alg === 'EdDSA' ? oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret);
      const grant = async (scope) => oauth.processClientCredentialsResponse(as, client,
        await oauth.clientCredentialsGrantRequest(as, client, auth, { scope }, insecure));
      const got = await grant('reports:read');
      assert.equal(got.token_type, 'bearer');
      assert.equal(got.scope, 'reports:read');
      const token = got.access_token;

      const bearer = (t) => new Request('https://api.example.com/reports', { headers: { Authorization: `Bearer ${t}` } });
      const claims = await oauth.validateJwtAccessToken(as, bearer(token), issuer, insecure);
      assert.equal(claims.iss, issuer);
      assert.equal(claims.sub, key.id);
      assert.equal(claims.client_id, key.id);
      assert.equal(claims.scope, 'reports:read');

      const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));
      const verified = await jose.jwtVerify(token, jwks, { issuer, audience: issuer, typ: 'at+jwt' });
      assert.equal(verified.protectedHeader.alg, alg);
      const current = store.signingKeys().find((k) => k.state === 'current');
      assert.equal(verified.protectedHeader.kid, current.kid);
      assert.equal(verified.payload.sub, key.id);
      assert.equal(store.authorize(token, 'reports').keyId, key.id);

      // Rotation: the set fetched before it already lists the key that signs after it,
      // and a token signed before it still verifies after.
      const setBefore = await (await fetch(as.jwks_uri)).json();
      const rotated = store.rotateSigningKey();
      assert.equal(rotated.state, 'current');
      assert.notEqual(rotated.kid, current.kid);
      assert.ok(setBefore.keys.some((k) => k.kid === rotated.kid), 'the new current key was published as next');
      const after = (await grant('reports:read')).access_token;
      const localBefore = jose.createLocalJWKSet(setBefore);
      const fromOldSet = await jose.jwtVerify(after, localBefore, { issuer, audience: issuer, typ: 'at+jwt' });
      assert.equal(fromOldSet.protectedHeader.kid, rotated.kid);
      const fresh = jose.createRemoteJWKSet(new URL(as.jwks_uri));
      assert.equal((await jose.jwtVerify(token, fresh, { issuer, audience: issuer, typ: 'at+jwt' })).protectedHeader.kid, current.kid);
      await jose.jwtVerify(after, fresh, { issuer, audience: issuer, typ: 'at+jwt' });
      assert.equal((await oauth.validateJwtAccessToken(as, bearer(token), issuer, insecure)).jti, claims.jti);
      await oauth.validateJwtAccessToken(as, bearer(after), issuer, insecure);
      assert.equal(store.authorize(token, 'reports').keyId, key.id);

      // Another audience, or a tampered token, is refused by both libraries.
      await assert.rejects(jose.jwtVerify(token, fresh, { issuer, audience: 'https://other.example.com', typ: 'at+jwt' }));
      const [h, p, s] = after.split('.');
      const tampered = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      await assert.rejects(jose.jwtVerify(tampered, fresh, { issuer, audience: issuer, typ: 'at+jwt' }));
      await assert.rejects(oauth.validateJwtAccessToken(as, bearer(tampered), issuer, insecure));
    } finally {
      await stop();
    }
  });
}

test('introspection is active until the client revokes the token (RFC 7662, RFC 7009)', async () => {
  const oauth = await import('oauth4webapi');
  const insecure = { [oauth.allowInsecureRequests]: true };
  const { store, issuer, stop } = await serve('ES256');
  try {
    const { key, secret } = await store.createKey({ name: 'svc', grants: ['reports:read'] });
    const rs = await store.createKey({ name: 'resource-server', grants: ['reports:read'] });
    const issuerUrl = new URL(issuer);
    const as = await oauth.processDiscoveryResponse(issuerUrl,
      await oauth.discoveryRequest(issuerUrl, { algorithm: 'oauth2', ...insecure }));
    const client = { client_id: key.id };
    const auth = oauth.ClientSecretBasic(secret);
    const { access_token: token } = await oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, {}, insecure));

    const introspect = async (who, whoAuth) => oauth.processIntrospectionResponse(as, who,
      await oauth.introspectionRequest(as, who, whoAuth, token, insecure));
    let info = await introspect(client, auth);
    assert.equal(info.active, true);
    assert.equal(info.client_id, key.id);
    assert.equal(info.scope, 'reports:read');
    assert.equal(info.token_type, 'Bearer');
    // A resource server holding a key of its own, in the form body this time.
    const rsClient = { client_id: rs.key.id };
    info = await introspect(rsClient, oauth.ClientSecretPost(rs.secret));
    assert.equal(info.active, true);

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, token, insecure));
    info = await introspect(client, auth);
    assert.deepEqual({ ...info }, { active: false });
    assert.throws(() => store.authorize(token, 'reports'), (e) => e.code === 'KEYSCOPE_TOKEN_REVOKED');
    // Revoking again, or a token that is not one, is still 200.
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, token, insecure));
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, 'not-a-token', insecure));
  } finally {
    await stop();
  }
});
