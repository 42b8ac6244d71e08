// "Sign in with SSO": the authorization-code flow with PKCE (S256), run by the page as a
// public client of the company's identity provider (CONTRACT "Agent sign-in (v3)"). The
// provider's answer comes back as `?code=&state=` on this page, which is taken off the
// address at once; the code is exchanged for tokens by a request to the provider's
// token endpoint (the page's policy allows that origin only), and the access token is
// kept where a pasted token is kept (this tab's sessionStorage), never in a URL.
'use strict';

const SSO = (() => {
  const FLOW = 'switchboard.sso-flow';   // {state, verifier} while the provider is asked
  const ACTIVE = 'switchboard.sso';      // this tab signed in through the provider

  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));

  /** The provider's endpoints and the desk's client, or null while SSO is off. */
  async function config() {
    try {
      const res = await fetch('/desk/sso', { cache: 'no-store' });
      return res.ok ? await res.json() : null;
    } catch (e) {
      return null;
    }
  }

  const redirectUri = () => location.origin + location.pathname;

  /** Leaves for the provider's sign-in (its session may send the agent straight back). */
  async function begin(cfg) {
    const verifier = random(32);
    const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const state = random(16);
    sessionStorage.setItem(FLOW, JSON.stringify({ state, verifier }));
    const url = new URL(cfg.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: cfg.client_id,
      redirect_uri: redirectUri(),
      scope: cfg.scopes,
      state,
      nonce: random(16),
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString();
    location.assign(url.toString());
  }

  /**
   * Finishes a sign-in the provider sent back to this page: answers the access token
   * (the ID token where the provider's access tokens are not JWTs), null when this page
   * load is no such return; throws on a refusal or a mismatched state.
   */
  async function finish(cfg) {
    const params = new URLSearchParams(location.search);
    if (!params.has('code') && !params.has('error')) return null;
    // Off the address first: nothing of the exchange stays in history or a bookmark.
    history.replaceState(null, '', location.pathname + location.hash);
    const flow = JSON.parse(sessionStorage.getItem(FLOW) || 'null');
    sessionStorage.removeItem(FLOW);
    if (params.has('error')) throw new Error('The sign-in was refused: ' + params.get('error'));
    if (!flow || flow.state !== params.get('state')) throw new Error('The sign-in did not start here; try again.');
    const res = await fetch(cfg.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: params.get('code'),
        redirect_uri: redirectUri(),
        client_id: cfg.client_id,
        code_verifier: flow.verifier,
      }),
    });
    const tokens = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error('The provider did not issue a token: ' + (tokens.error || res.status));
    const jwt = (t) => typeof t === 'string' && t.split('.').length === 3;
    const token = jwt(tokens.access_token) ? tokens.access_token : tokens.id_token;
    if (!jwt(token)) throw new Error('The provider issued no token this service can check.');
    sessionStorage.setItem(ACTIVE, '1');
    return token;
  }

  const active = () => sessionStorage.getItem(ACTIVE) === '1';
  const forget = () => sessionStorage.removeItem(ACTIVE);

  return { config, begin, finish, active, forget };
})();
