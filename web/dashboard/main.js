// The dashboard: follows the server's event stream (dashboard/api/stream) and
// redraws every section from each snapshot. The link indicator says whether
// what is shown is live: "live", "reconnecting" (the stream broke; the browser
// reconnects after a second) or "stale" (nothing heard for 12 s).
// Tests read window.onairDashboard.

import { h, fill, clock } from './dom.js';
import { Flows } from './flows.js';
import { renderChannels } from './channels.js';
import { renderAlarms, renderEvents } from './alarms.js';
import { Watch } from './watch.js';
import { Demo } from './demo.js';

const STALE_MS = 12000;
const $ = (id) => document.getElementById(id);

const flows = new Flows($('flows'));
const demo = new Demo($('demo'), $('demo-panel'));
const watch = new Watch({ select: $('endpoint'), info: $('endpoint-info'), video: $('video'), status: $('player-status') });
const state = { snapshot: null, link: 'connecting', updates: 0, heard: Date.now() };

window.onairDashboard = {
  get snapshot() { return state.snapshot; },
  get link() { return state.link; },
  get updates() { return state.updates; },
  player: watch.player,
};
window.onairPlayer = watch.player;

function setLink(link, words) {
  state.link = link;
  const el = $('link');
  el.dataset.link = link;
  el.textContent = words;
}

function summary(s) {
  const counted = (list, health) => list.filter((x) => x.health === health).length;
  const n = (k, word) => `${k} ${word}${k === 1 ? '' : 's'}`;
  const states = (list) => [
    counted(list, 'error') ? `${counted(list, 'error')} failed` : null,
    counted(list, 'warning') ? `${counted(list, 'warning')} degraded` : null,
  ].filter(Boolean).map((w) => `, ${w}`).join('');
  const alarms = s.alarms.filter((a) => a.state === 'ALARM').length;
  const parts = [
    `${n(s.flows.length, 'flow')}${states(s.flows)}`,
    `${n(s.channels.length, 'channel')}${states(s.channels)}`,
    `${n(s.alarms.length, 'alarm')}${alarms ? `, ${alarms} in ALARM` : ''}`,
  ];
  const failed = alarms || [...s.flows, ...s.channels].some((x) => x.health === 'error');
  const degraded = [...s.flows, ...s.channels].some((x) => x.health === 'warning');
  const el = $('summary');
  el.textContent = parts.join(' · ');
  el.dataset.health = failed ? 'error' : degraded ? 'warning' : 'ok';
}

function render(s) {
  state.snapshot = s;
  state.updates += 1;
  $('clock').textContent = clock(s.at);
  summary(s);
  const problems = $('problems');
  problems.hidden = s.problems.length === 0;
  fill(problems, s.problems.map((p) => h('div', {}, p)));
  flows.render(s);
  renderChannels($('channels'), s);
  watch.render(s);
  renderAlarms($('alarms'), $('alarm-history'), s);
  renderEvents($('events'), s);
  demo.render(s);
}

async function loadHistory() {
  try {
    const resp = await fetch('dashboard/api/history', { cache: 'no-store' });
    if (resp.ok) { flows.backfill(await resp.json()); }
  } catch (e) {
    // The charts fill from the live stream anyway.
  }
}

function connect() {
  const stream = new EventSource('dashboard/api/stream');
  let first = true;
  stream.addEventListener('snapshot', (ev) => {
    state.heard = Date.now();
    setLink('live', 'live');
    render(JSON.parse(ev.data));
    if (first) { first = false; loadHistory(); }
  });
  stream.addEventListener('ping', (ev) => {
    state.heard = Date.now();
    setLink('live', 'live');
    $('clock').textContent = clock(Number(ev.data));
  });
  stream.addEventListener('open', () => { first = true; });
  stream.addEventListener('error', () => {
    setLink('down', 'reconnecting…');
  });
}

setInterval(() => {
  if (state.link === 'live' && Date.now() - state.heard > STALE_MS) {
    setLink('stale', `no news for ${Math.round((Date.now() - state.heard) / 1000)} s`);
  }
}, 1000);

connect();
