// The agent's desk: presence (the server's truth), the conversations they hold, one
// conversation's whole cross-channel timeline, reply, transfer and resolve, and an
// alert (sound and tab-title counter) on new work.
'use strict';

(() => {
  const { api, stream, el, $, badge, time } = SB;
  const TITLE = 'Switchboard desk';
  /** Timeline entries rendered at first and per "show earlier": long timelines stay fast. */
  const WINDOW = 50;
  /** Entries per page the desk asks the server for (CONTRACT "Long timelines page"). */
  const PAGE = 200;
  const PRESENCE_POLL_MS = 5000;

  const desk = {
    me: null,
    open: null, // the conversation shown, as the API answered it
    shown: WINDOW,
    unseen: 0,
    audio: null,
  };

  // --- alerts -----------------------------------------------------------------------

  function setTitle() {
    document.title = desk.unseen > 0 ? `(${desk.unseen}) ${TITLE}` : TITLE;
  }

  /** A short chime; browsers that block sound until a click get an unmute button. */
  function chime() {
    document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    desk.audio = desk.audio || new Ctx();
    if (desk.audio.state === 'suspended') {
      $('unmute').hidden = false;
      return;
    }
    const osc = desk.audio.createOscillator();
    const gain = desk.audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, desk.audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, desk.audio.currentTime + 0.25);
    osc.connect(gain).connect(desk.audio.destination);
    osc.start();
    osc.stop(desk.audio.currentTime + 0.25);
  }

  function alertNew() {
    desk.unseen += 1;
    setTitle();
    chime();
  }

  function seen() {
    desk.unseen = 0;
    setTitle();
  }

  // --- presence ---------------------------------------------------------------------

  async function refreshPresence() {
    const me = await api('GET', `/v1/agents/${encodeURIComponent(desk.me)}`);
    if (document.activeElement !== $('presence')) $('presence').value = me.presence;
    $('me').textContent = `${me.name} (${me.id})`;
    return me;
  }

  async function setPresence() {
    const wanted = $('presence').value;
    try {
      const me = await api('PUT', `/v1/agents/${encodeURIComponent(desk.me)}/presence`, { presence: wanted });
      $('presence').value = me.presence;
    } catch (err) {
      $('action-status').textContent = `Presence not changed: ${err.message}`;
      refreshPresence();
    }
    loadList();
  }

  // --- the list ---------------------------------------------------------------------

  async function loadList() {
    const items = await api('GET', `/v1/agents/${encodeURIComponent(desk.me)}/conversations`);
    const list = $('list');
    list.replaceChildren(...items.map((item) => el('li', {
      class: 'item' + (desk.open && desk.open.id === item.conversation_id ? ' active' : ''),
      'data-conversation': item.conversation_id,
      onclick: () => openConversation(item.conversation_id),
    },
    el('div', { class: 'item-head' },
      el('span', { class: 'name' }, item.customer_name || item.customer_id),
      item.unread > 0 ? el('span', { class: 'unread', title: 'Customer messages since the last answer' }, item.unread) : null),
    el('div', { class: 'badges' }, item.channels.map((c) => badge(c))),
    el('div', { class: 'preview' }, item.preview),
    item.covering ? el('div', { class: 'covering' }, `covering for ${item.personal_agent_id}`) : null)));
    $('empty').hidden = items.length > 0;
  }

  // --- one conversation -------------------------------------------------------------

  async function openConversation(id, keepWindow) {
    const conv = await api('GET', `/v1/conversations/${encodeURIComponent(id)}`);
    const fresh = !desk.open || desk.open.id !== conv.id;
    if (!fresh) keepOlder(conv, desk.open);
    if (fresh) {
      desk.shown = WINDOW;
      $('reply-text').value = '';
      $('action-status').textContent = '';
      $('reply-status').textContent = '';
    } else if (!keepWindow) {
      desk.shown = Math.max(desk.shown, WINDOW);
    }
    desk.open = conv;
    seen();
    history.replaceState(null, '', '#' + conv.id);
    $('conversation').hidden = false;
    renderHead(conv);
    renderTimeline(conv);
    renderCustomer(conv);
    renderReplyChannels(conv, fresh);
    for (const li of $('list').children) {
      li.classList.toggle('active', li.dataset.conversation === conv.id);
    }
  }

  function renderHead(conv) {
    const c = conv.customer;
    $('conv-title').textContent = c.display_name || c.id;
    $('conv-channels').replaceChildren(...conv.channels.map((ch) => badge(ch)));
    const where = conv.agent_id ? `with ${conv.agent_id}` : conv.queue ? `in the ${conv.queue} queue` : '';
    $('conv-state').textContent = `${conv.state} ${where}`.trim();
  }

  /** Seconds between two times, as "3 min 20 s". */
  function span(from, to) {
    const secs = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
    return secs < 60 ? `${secs} s` : `${Math.floor(secs / 60)} min ${secs % 60} s`;
  }

  /** What a call record says of the call: its duration, and the time its caller spent in
   *  the phone menu (or that they were sent past it). */
  function callFacts(call) {
    const talk = call.answered_at
      ? (call.ended_at ? `${span(call.answered_at, call.ended_at)} call` : 'on the call')
      : (call.ended_at ? 'not answered' : 'ringing');
    const menu = call.menu_entered_at
      ? `${span(call.menu_entered_at, call.menu_left_at || call.ended_at || new Date().toISOString())} in the menu`
      : 'past the menu (known caller)';
    return `${talk} · ${menu}`;
  }

  /** Fills in a call entry's facts, and again in a few seconds while the call goes on. */
  async function showCall(node, externalId) {
    try {
      const call = await api('GET', `/v1/calls/${encodeURIComponent(externalId)}`);
      node.textContent = callFacts(call);
      if (!call.ended_at) {
        setTimeout(() => { if (node.isConnected) showCall(node, externalId); }, 3000);
      }
    } catch (err) {
      node.textContent = ''; // kept for a day: older calls show as calls only
    }
  }

  function entry(m) {
    const note = m.kind === 'note';
    const cls = ['entry', m.direction === 'in' ? 'in' : 'out', note ? 'note' : ''].join(' ');
    return el('li', { class: cls, 'data-message': m.id },
      el('div', { class: 'meta' },
        note ? el('span', { class: 'badge badge-note' }, 'Note') : badge(m.channel, m.network),
        el('span', { class: 'from' }, m.from),
        el('time', { datetime: m.at }, time(m.at))),
      m.subject ? el('div', { class: 'subject' }, m.subject) : null,
      el('div', { class: 'text' }, m.text),
      m.delivery ? deliveryNode(m.delivery) : null,
      m.channel === 'phone' && m.external_id ? callNode(m.external_id) : null);
  }

  /** Where a reply got to, as its provider reported: sent, delivered, read, or failed
   *  with the provider's reason (and code). */
  function deliveryNode(d) {
    const label = { sent: 'sent', delivered: 'delivered', read: 'read', failed: 'failed' }[d.status] || d.status;
    const reason = d.status === 'failed' && d.error
      ? `: ${d.error}${d.error_code ? ` (${d.error_code})` : ''}` : '';
    return el('div', { class: `delivery delivery-${d.status}`, title: d.at }, label + reason);
  }

  function callNode(externalId) {
    const node = el('div', { class: 'call-facts' });
    showCall(node, externalId);
    return node;
  }

  /** The server answers the newest page of a timeline; entries older than it that the
   *  agent already loaded with "show earlier" stay when the conversation is refreshed. */
  function keepOlder(conv, before) {
    const first = conv.messages[0];
    const at = first ? before.messages.findIndex((m) => m.id === first.id) : -1;
    if (conv.earlier && at > 0) {
      conv.messages = before.messages.slice(0, at).concat(conv.messages);
      conv.earlier = before.earlier;
    }
  }

  /** Shows WINDOW more entries: from those loaded, or the page before them. */
  async function showEarlier() {
    const conv = desk.open;
    if (desk.shown >= conv.messages.length && conv.earlier && conv.messages.length) {
      const before = encodeURIComponent(conv.messages[0].id);
      const older = await api('GET',
        `/v1/conversations/${encodeURIComponent(conv.id)}?before=${before}&limit=${PAGE}`);
      if (desk.open !== conv) return;
      conv.messages = older.messages.concat(conv.messages);
      conv.earlier = older.earlier;
    }
    desk.shown += WINDOW;
    renderTimeline(conv);
  }

  function renderTimeline(conv) {
    const all = conv.messages;
    const from = Math.max(0, all.length - desk.shown);
    $('timeline').replaceChildren(...all.slice(from).map(entry));
    const earlier = $('earlier');
    earlier.hidden = from === 0 && !conv.earlier;
    earlier.textContent = from > 0
      ? `Show ${Math.min(WINDOW, from)} earlier (${from} not shown)`
      : 'Show earlier (older entries)';
    const wrap = $('timeline');
    wrap.lastElementChild && wrap.lastElementChild.scrollIntoView({ block: 'nearest' });
  }

  function dd(term, ...value) {
    return [el('dt', {}, term), el('dd', {}, ...value)];
  }

  function renderCustomer(conv) {
    const c = conv.customer;
    const personal = c.personal_agent_id;
    const mine = personal === desk.me;
    const rows = [
      ...dd('Name', c.display_name || '—'),
      ...dd('Tier', c.tier),
      ...dd('Identities', el('ul', {}, c.identities.map((i) => el('li', {}, `${i.kind}: ${i.value}`)))),
      ...dd('Personal agent', personal
        ? (mine ? 'you' : `${personal}${conv.agent_id === desk.me ? ' (you are covering)' : ''}`)
        : 'none yet'),
    ];
    if (c.satisfaction) rows.push(...dd('Satisfaction', `${c.satisfaction.index.toFixed(2)} over ${c.satisfaction.ratings} ratings`));
    if (c.open_complaint_conversation_id) rows.push(...dd('Open complaint', el('span', { class: 'complaint' }, c.open_complaint_conversation_id)));
    if (c.follow_up_due) rows.push(...dd('Follow-up due', time(c.follow_up_due)));
    $('customer').replaceChildren(...rows);
    const previous = c.conversation_ids.filter((id) => id !== conv.id);
    $('previous').replaceChildren(...(previous.length ? previous.map((id) => el('li', {},
      el('button', { type: 'button', class: 'link', onclick: () => openConversation(id) }, id)))
      : [el('li', { class: 'muted' }, 'none')]));
  }

  /** Channels to answer on, the customer's last one first and chosen, unless the agent
   *  already chose another for this conversation (a refresh must not undo that). */
  function renderReplyChannels(conv, fresh) {
    const last = [...conv.messages].reverse().find((m) => m.direction === 'in');
    const select = $('reply-channel');
    const lastChannel = last ? last.channel : 'chat';
    const channels = [...new Set([lastChannel, ...conv.channels])];
    const chosen = !fresh && channels.includes(select.value) ? select.value : lastChannel;
    select.replaceChildren(...channels.map((c) => el('option', { value: c, selected: c === chosen }, c)));
  }

  // --- actions ----------------------------------------------------------------------

  async function act(what, run) {
    $('action-status').textContent = `${what}…`;
    try {
      await run();
      $('action-status').textContent = `${what}: done`;
    } catch (err) {
      $('action-status').textContent = `${what} failed: ${err.message}`;
    }
  }

  async function reply(e) {
    e.preventDefault();
    const conv = desk.open;
    const text = $('reply-text').value;
    if (!conv || !text.trim()) return;
    try {
      const sent = await api('POST', `/v1/conversations/${encodeURIComponent(conv.id)}/messages`, {
        text, channel: $('reply-channel').value,
      });
      $('reply-text').value = '';
      $('reply-status').textContent = sent.delivery ? `sent (${sent.delivery})` : 'stored';
      await openConversation(conv.id);
      loadList();
    } catch (err) {
      $('reply-status').textContent = `not sent: ${err.message}`;
    }
  }

  function transfer(e) {
    e.preventDefault();
    const conv = desk.open;
    if (!conv) return;
    const agent = $('transfer-agent').value.trim();
    const queue = $('transfer-queue').value;
    const note = $('transfer-note').value.trim();
    if (!agent && !queue) {
      $('action-status').textContent = 'Name an agent or a queue to transfer to.';
      return;
    }
    const body = agent ? { to_agent: agent } : { to_queue: queue };
    if (note) body.note = note;
    act('Transfer', async () => {
      await api('POST', `/v1/conversations/${encodeURIComponent(conv.id)}/transfer`, body);
      $('transfer-agent').value = '';
      $('transfer-note').value = '';
      await loadList();
      await openConversation(conv.id).catch(() => { $('conversation').hidden = true; });
    });
  }

  function resolve(e) {
    e.preventDefault();
    const conv = desk.open;
    if (!conv) return;
    const csat = $('resolve-csat').value;
    act('Resolve', async () => {
      await api('POST', `/v1/conversations/${encodeURIComponent(conv.id)}/resolve`, csat ? { csat: Number(csat) } : {});
      $('resolve-csat').value = '';
      await loadList();
      await openConversation(conv.id);
    });
  }

  // --- events -----------------------------------------------------------------------

  function onEvent(name, data) {
    const id = data.conversation_id;
    const isOpen = desk.open && desk.open.id === id;
    if (name === 'conversation.assigned' || name === 'conversation.transferred') {
      alertNew();
    } else if (name === 'message.created' && !(isOpen && document.hasFocus())) {
      alertNew();
    }
    loadList().catch(() => {});
    if (isOpen) openConversation(id, true).catch(() => {});
  }

  function onStreamState(state, reason) {
    $('stream-state').textContent = { live: 'live', reconnecting: 'reconnecting…', 'signed-out': 'signed out' }[state];
    $('stream-state').dataset.state = state;
    if (state === 'live') loadList().catch(() => {});
    if (state === 'signed-out') SB.reauth(reason);
  }

  // --- start ------------------------------------------------------------------------

  async function start(who) {
    if (!who.agent_id) throw Object.assign(new Error('not an agent token'), { status: 401 });
    desk.me = who.agent_id;
    await refreshPresence();
    $('signin').hidden = true;
    $('app').hidden = false;
    $('wall-link').hidden = who.role !== 'supervisor';
    await loadList();
    stream(`/v1/agents/${encodeURIComponent(desk.me)}/events`, onEvent, onStreamState);
    setInterval(() => refreshPresence().catch(() => {}), PRESENCE_POLL_MS);
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) refreshPresence().catch(() => {});
    });
    const wanted = location.hash.slice(1);
    if (wanted) openConversation(wanted).catch(() => {});
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('presence').addEventListener('change', setPresence);
    $('reply-form').addEventListener('submit', reply);
    $('transfer-form').addEventListener('submit', transfer);
    $('resolve-form').addEventListener('submit', resolve);
    $('earlier').addEventListener('click', showEarlier);
    $('unmute').addEventListener('click', async () => {
      if (desk.audio) await desk.audio.resume();
      $('unmute').hidden = true;
    });
    window.addEventListener('focus', () => { if (desk.open) seen(); });
    SB.signIn(start);
  });
})();
