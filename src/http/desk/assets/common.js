// Shared by the desk and the wall: the token (this tab's sessionStorage, never a URL),
// pasted or from the identity provider (sso.js), renewed before it expires; API calls;
// an event-stream reader over fetch (EventSource cannot send a bearer token) that
// resumes where it stopped, even across a new sign-in; and DOM building that only ever
// sets text, so customer input stays text.
'use strict';

const SB = (() => {
  const KEY = 'switchboard.token';

  const token = () => sessionStorage.getItem(KEY);
  const setToken = (t) => sessionStorage.setItem(KEY, t.trim());
  const clearToken = () => sessionStorage.removeItem(KEY);

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail);
      this.status = status;
    }
  }

  /** Calls the API with the token; answers the JSON body or throws an ApiError. */
  async function api(method, path, body) {
    const headers = { Authorization: 'Bearer ' + token() };
    const init = { method, headers, cache: 'no-store' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    if (!res.ok) {
      throw new ApiError(res.status, (data && (data.detail || data.title)) || res.statusText);
    }
    return data;
  }

  /** One parsed server-sent event from a block of lines. */
  function parseEvent(block) {
    const ev = { id: null, event: 'message', data: [] };
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const at = line.indexOf(':');
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (field === 'id') ev.id = value;
      else if (field === 'event') ev.event = value;
      else if (field === 'data') ev.data.push(value);
    }
    return ev.data.length ? ev : null;
  }

  /**
   * Reads `path` as text/event-stream for as long as the page lives, resuming after a
   * drop with Last-Event-ID so nothing is missed; the last id is kept in the tab, so a
   * stream ended by `reauth` (its token expired or was revoked) resumes after the new
   * sign-in. `onEvent(name, data)` gets each event, `onState('live' | 'reconnecting' |
   * 'signed-out', reason)` the connection's state (the reason: `reauth`'s, if it said).
   */
  function stream(path, onEvent, onState) {
    const LAST = 'switchboard.last-event:' + path;
    let last = sessionStorage.getItem(LAST);
    let ended = null; // why the server ended the stream (`reauth`), if it did
    let delay = 500;
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    async function once() {
      const headers = { Authorization: 'Bearer ' + token(), Accept: 'text/event-stream' };
      if (last) headers['Last-Event-ID'] = last;
      const res = await fetch(path, { headers, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) return false;
      if (!res.ok || !res.body) throw new Error('stream answered ' + res.status);
      onState('live');
      delay = 500;
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return true;
        buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const ev = parseEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (!ev) continue;
          if (ev.event === 'reauth') {
            try {
              ended = JSON.parse(ev.data.join('\n')).reason;
            } catch (e) {
              ended = 'expired';
            }
            return false;
          }
          if (ev.id) {
            last = ev.id;
            sessionStorage.setItem(LAST, last);
          }
          let data = null;
          try {
            data = JSON.parse(ev.data.join('\n'));
          } catch (e) {
            continue;
          }
          onEvent(ev.event, data);
        }
      }
    }
    (async () => {
      for (;;) {
        try {
          if (!(await once())) {
            onState('signed-out', ended);
            return;
          }
        } catch (e) {
          // A dropped network or a restarting replica: try again, backing off.
        }
        onState('reconnecting');
        await sleep(delay);
        delay = Math.min(delay * 2, 10000);
      }
    })();
  }

  /** An element with attributes and children; strings become text nodes, never HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const $ = (id) => document.getElementById(id);

  const NETWORKS = {
    whatsapp: 'WhatsApp', messenger: 'Messenger', instagram: 'Instagram',
    telegram: 'Telegram', sms: 'SMS', voice: 'Call',
  };

  /** A channel's badge: the network when it says more (SMS, WhatsApp), else the channel. */
  function badge(channel, network) {
    const label = (network && NETWORKS[network]) || {
      phone: 'Call', email: 'E-mail', chat: 'Chat', social: 'Social',
    }[channel] || channel;
    return el('span', { class: 'badge badge-' + (network || channel), 'data-channel': channel }, label);
  }

  function ago(iso) {
    const secs = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (secs < 60) return secs + ' s';
    if (secs < 3600) return Math.floor(secs / 60) + ' min ' + (secs % 60) + ' s';
    return Math.floor(secs / 3600) + ' h ' + Math.floor((secs % 3600) / 60) + ' min';
  }

  const time = (iso) => new Date(iso).toLocaleString();

  /** Who the token signs in as: `{ role, agent_id, expires_at }` (`GET /v1/me`). */
  const me = () => api('GET', '/v1/me');

  /**
   * Signs in again when the token stops working (expired, revoked): through the provider
   * when this tab signed in there (its session usually sends the agent straight back; a
   * revoked agent's new token must be of a later second), else back to the form.
   */
  async function reauth(reason) {
    const cfg = SSO.active() ? await SSO.config() : null;
    if (!cfg) {
      clearToken();
      location.reload();
      return;
    }
    if (reason === 'revoked') await new Promise((r) => setTimeout(r, 1100));
    SSO.begin(cfg);
  }

  /** Renews a provider's token a little before it expires. */
  function renewBeforeExpiry(expiresAt) {
    if (!SSO.active() || !expiresAt) return;
    const left = expiresAt * 1000 - Date.now();
    setTimeout(() => reauth('expiring'), Math.max(0, left - Math.min(60000, left / 5)));
  }

  /**
   * Shows the sign-in (a pasted token, and "Sign in with SSO" when the provider is
   * configured) until a token the server accepts is given to `start`; finishes a
   * provider's sign-in this page load returns from.
   */
  async function signIn(start) {
    const begin = async () => {
      const who = await me();
      await start(who);
      renewBeforeExpiry(who.expires_at);
    };
    const refused = (err) => {
      clearToken();
      SSO.forget();
      $('signin-error').textContent = err.status === 401
        ? 'That token was not accepted (wrong, expired, revoked, or for another deployment).'
        : String(err.message || err);
      $('signin').hidden = false;
    };
    const form = $('signin-form');
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      setToken($('token').value);
      SSO.forget();
      $('token').value = '';
      $('signin-error').textContent = '';
      await begin().catch(refused);
    });
    $('signout').addEventListener('click', () => {
      clearToken();
      SSO.forget();
      location.reload();
    });
    const cfg = await SSO.config();
    if (cfg) {
      $('sso').hidden = false;
      $('sso').addEventListener('click', () => SSO.begin(cfg));
      try {
        const issued = await SSO.finish(cfg);
        if (issued) setToken(issued);
      } catch (err) {
        refused(err);
        return;
      }
    }
    if (token()) {
      await begin().catch(refused);
    } else {
      $('signin').hidden = false;
    }
  }

  return { api, stream, el, $, badge, ago, time, signIn, token, reauth };
})();
