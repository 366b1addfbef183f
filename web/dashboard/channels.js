// The MediaLive channels: state, the input on air, each input's state, the
// renditions of the encoder settings, frame rate and encoder speed (from the
// metrics, when published), and alerts.

import { h, fill, badge, bitrate, clock } from './dom.js';

const CHANNEL_WORDS = { ok: 'OK', warning: 'DEGRADED', error: 'FAILED', idle: 'IDLE' };
const INPUT_HEALTH = { CONNECTED: 'ok', NO_DATA: 'error', WAITING: 'warning' };

function rendition(r) {
  const size = r.width && r.height ? `${r.width}×${r.height}` : '';
  const rate = r.framerate ? `${+r.framerate.toFixed(2)} fps` : '';
  return h('li', { title: r.name }, [r.name, size, r.bitrate ? bitrate(r.bitrate) : '', rate].filter(Boolean).join(' · '));
}

function input(i, active) {
  const health = i.state ? (INPUT_HEALTH[i.state] || 'warning') : 'idle';
  const notes = [i.black ? 'black' : null, i.silent ? 'silent' : null, i.losses ? `${i.losses} losses` : null,
    i.refused ? `${i.refused} datagrams refused by its security group` : null]
    .filter(Boolean).join(', ');
  return h('li', { dataset: { input: i.name, health }, title: i.reason || '' },
    badge(health, i.state || '—'), ' ', i.name,
    i.name === active ? h('span', { class: 'tag' }, 'ACTIVE') : null,
    notes ? h('span', { class: 'muted' }, ` (${notes})`) : null);
}

function alert(a) {
  const when = a.clearedAt ? `${clock(a.setAt)}–${clock(a.clearedAt)}` : `since ${clock(a.setAt)}`;
  return h('li', { class: a.state === 'SET' ? 'bad' : 'muted', dataset: { alert: a.type, state: a.state } },
    `${a.type} ${a.state === 'SET' ? 'SET' : 'cleared'} ${when}: ${a.message}`);
}

export function renderChannels(root, snapshot) {
  if (snapshot.channels.length === 0) {
    fill(root, h('p', { class: 'empty' }, 'No channels yet.'));
    return;
  }
  fill(root, snapshot.channels.map((c) => {
    const facts = [
      c.state,
      c.activeInput ? `input: ${c.activeInput}` : null,
      c.inputLoss ? 'INPUT LOSS' : null,
      c.fps !== null ? `${c.fps.toFixed(2)} fps` : null,
      c.encoderSpeed !== null ? `speed ${c.encoderSpeed.toFixed(2)}×` : null,
      c.engineRestarts ? `${c.engineRestarts} engine restarts` : null,
    ].filter(Boolean);
    const alerts = c.alerts.slice(0, 5);
    return h('article', { class: 'card channel', dataset: { channelId: c.id, health: c.health } },
      h('div', { class: 'card-head' },
        badge(c.health, CHANNEL_WORDS[c.health]),
        h('h3', { title: c.arn }, c.name || c.id),
        h('span', { class: 'facts' }, facts.join(' · '))),
      h('div', { class: 'rows' },
        h('div', {}, h('span', { class: 'label' }, 'inputs'), h('ul', { class: 'inline' }, c.inputs.map((i) => input(i, c.activeInput)))),
        h('div', {}, h('span', { class: 'label' }, 'renditions'),
          c.renditions.length ? h('ul', { class: 'inline' }, c.renditions.map(rendition)) : h('span', { class: 'muted' }, '—')),
        c.packagingChannels.length
          ? h('div', {}, h('span', { class: 'label' }, 'to'), h('span', {}, `MediaPackage ${c.packagingChannels.join(', ')}`))
          : null,
        h('div', {}, h('span', { class: 'label' }, 'alerts'),
          alerts.length ? h('ul', { class: 'alerts' }, alerts.map(alert)) : h('span', { class: 'muted' }, 'none'))));
  }));
}
