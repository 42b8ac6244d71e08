// The supervisor's wall: the whole floor from one read of /v1/floor, refreshed every
// two seconds. A waiting conversation opens on this tab's desk, where a supervisor may
// read it and work the supervisor queue (transfer it to an agent or a queue).
'use strict';

(() => {
  const { api, el, $, ago } = SB;
  const REFRESH_MS = 2000;
  const CHANNELS = ['phone', 'email', 'chat', 'social'];

  const open = (id) => el('a', { href: '/desk#' + id }, id);

  function rows(table, items, row) {
    table.tBodies[0].replaceChildren(...items.map((item) => el('tr', {}, row(item).map((cell) => el('td', {}, cell)))));
  }

  function render(floor) {
    rows($('queues'), floor.queues, (q) => [q.queue, q.depth, q.oldest_since ? ago(q.oldest_since) : '—']);
    for (const tr of $('queues').tBodies[0].rows) {
      tr.dataset.queue = tr.cells[0].textContent;
    }
    rows($('waiting'), floor.waiting_longest, (w) => [open(w.conversation_id), w.queue, w.priority, ago(w.waiting_since)]);
    $('none-waiting').hidden = floor.waiting_longest.length > 0;
    rows($('complaints'), floor.open_complaints, (w) => [open(w.conversation_id), ago(w.waiting_since)]);
    $('complaints-section').hidden = floor.open_complaints.length === 0;
    rows($('agents'), floor.agents, (a) => [
      `${a.name} (${a.id})`,
      el('span', { class: 'presence-' + a.presence }, a.presence),
      ...CHANNELS.map((c) => `${a.load[c] || 0} / ${a.capacity[c]}`),
      a.portfolio,
    ]);
    $('updated').textContent = 'updated ' + new Date(floor.at).toLocaleTimeString();
  }

  async function refresh() {
    try {
      render(await api('GET', '/v1/floor'));
    } catch (err) {
      $('updated').textContent = `not updated: ${err.message}`;
      if (err.status === 401) SB.reauth('expired');
    }
  }

  async function start(who) {
    const floor = await api('GET', '/v1/floor').catch((err) => {
      if (err.status === 403) err.message = 'This token is not a supervisor\'s.';
      throw err;
    });
    $('me').textContent = who.agent_id || 'admin';
    $('signin').hidden = true;
    $('app').hidden = false;
    render(floor);
    setInterval(refresh, REFRESH_MS);
  }

  document.addEventListener('DOMContentLoaded', () => SB.signIn(start));
})();
