// The API tests' identity provider: npm oauth2-mock-server (discovery, JWKS, a token
// endpoint, RS256 keys) on a free loopback port, wrapped so a test can steer it:
//   POST /_test/token {claims, kid, header_kid, expires_in}
//                                                a token from the provider's own builder,
//                                                signed with key `kid` (or the newest), its
//                                                header naming `header_kid` if given, `claims`
//                                                merged over its defaults (null drops one)
//   POST /_test/add-key                          a new signing key (the next tokens use it)
//   POST /_test/remove-old-keys                  only the newest key stays in the JWKS
//   GET  /_test/pem?kid=K                        the public key as PEM (algorithm confusion)
//   GET  /_test/jwks-fetches                     how often the JWKS was fetched
// Prints {"issuer": "..."} on one line once it listens.
import http from 'node:http';
import { OAuth2Issuer, OAuth2Service } from 'oauth2-mock-server';
import { exportSPKI, importJWK } from 'jose';

let jwksFetches = 0;
let keys = [];
let newest;
let issuerUrl;
let current;

async function provider() {
  const issuer = new OAuth2Issuer();
  issuer.url = issuerUrl;
  for (const key of keys) await issuer.keys.add(key);
  const service = new OAuth2Service(issuer);
  return { issuer, service };
}

async function addKey() {
  const fresh = new OAuth2Issuer();
  newest = `k${keys.length + 1}`;
  keys.push(await fresh.keys.generate('RS256', { kid: newest }));
  keys[keys.length - 1] = fresh.keys.toJSON(true)[0];
  current = await provider();
}

function body(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
  });
}

function reply(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function control(req, res, url) {
  switch (url.pathname) {
    case '/_test/token': {
      const { claims = {}, kid = newest, header_kid, expires_in = 3600 } = await body(req);
      const token = await current.issuer.buildToken({
        kid,
        expiresIn: expires_in,
        scopesOrTransform: (header, payload) => {
          if (header_kid) header.kid = header_kid;
          for (const [k, v] of Object.entries(claims)) {
            if (v === null) delete payload[k];
            else payload[k] = v;
          }
        },
      });
      return reply(res, 200, { access_token: token });
    }
    case '/_test/add-key':
      await addKey();
      return reply(res, 200, { kid: newest });
    case '/_test/remove-old-keys':
      keys = keys.filter((k) => k.kid === newest);
      current = await provider();
      return reply(res, 200, { kids: keys.map((k) => k.kid) });
    case '/_test/pem': {
      const jwk = keys.find((k) => k.kid === url.searchParams.get('kid'));
      const { d, p, q, dp, dq, qi, ...pub } = jwk;
      const pem = await exportSPKI(await importJWK(pub, 'RS256', { extractable: true }));
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(pem);
    }
    case '/_test/jwks-fetches':
      return reply(res, 200, { fetches: jwksFetches });
    default:
      return reply(res, 404, { error: 'no such control' });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuerUrl);
  if (url.pathname.startsWith('/_test/')) {
    control(req, res, url).catch((e) => reply(res, 500, { error: String(e) }));
    return;
  }
  if (url.pathname === '/jwks') jwksFetches += 1;
  current.service.requestHandler(req, res);
});

server.listen(0, '127.0.0.1', async () => {
  issuerUrl = `http://127.0.0.1:${server.address().port}`;
  await addKey();
  console.log(JSON.stringify({ issuer: issuerUrl }));
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
