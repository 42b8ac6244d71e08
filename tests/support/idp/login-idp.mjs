// The desk's browser tests' identity provider: npm oidc-provider (a certified OpenID
// Provider) with its development login page (any login, any password), on a free
// loopback port. The desk is a public client (`switchboard-desk`, PKCE required, CORS
// for its origin); access tokens are JWTs for the audience `switchboard` naming the login
// in `preferred_username`, and a login starting with `sup` also carries the role
// `switchboard-supervisor`. Consent is implied (a first-party client).
//   node login-idp.mjs <redirect uri>... [--ttl seconds]
// Prints {"issuer": "..."} on one line once it listens.
import http from 'node:http';
import { generateKeyPair, exportJWK } from 'jose';

// The library's notes for developers (a development adapter, its own login page, the
// Node.js release) are what this test provider is meant to be: not printed.
const warn = console.warn;
console.warn = (...args) => {
  if (!String(args[0]).startsWith('oidc-provider WARNING')) warn(...args);
};
const { default: Provider } = await import('oidc-provider');

const args = process.argv.slice(2);
const ttlAt = args.indexOf('--ttl');
const ttl = ttlAt >= 0 ? Number(args.splice(ttlAt, 2)[1]) : 600;
const redirectUris = args;
const AUDIENCE = 'switchboard';
// The resource indicator (an absolute URI) whose access tokens carry that audience.
const RESOURCE = 'urn:switchboard:api';

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'login-1', alg: 'RS256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'switchboard-desk',
    token_endpoint_auth_method: 'none',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['switchboard-test-cookie-key'] },
  pkce: { required: () => true },
  clientBasedCORS: () => true,
  scopes: ['openid', 'profile', 'email'],
  claims: { openid: ['sub'], profile: ['preferred_username'] },
  ttl: { AccessToken: ttl, IdToken: ttl, Session: 3600, Grant: 3600, Interaction: 600 },
  findAccount: (_ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, preferred_username: id }),
  }),
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'openid profile email',
        audience: AUDIENCE,
        accessTokenTTL: ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  extraTokenClaims: (_ctx, token) => token.kind === 'AccessToken'
    ? {
      preferred_username: token.accountId,
      roles: token.accountId.startsWith('sup') ? ['switchboard-supervisor'] : [],
    }
    : undefined,
  // A first-party client: the grant is given without a consent page.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    grant.addResourceScope(RESOURCE, 'openid profile email');
    await grant.save();
    return grant;
  },
});
provider.on('server_error', (_ctx, err) => console.error('idp:', err));
server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
process.stdin.resume();
