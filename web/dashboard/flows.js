// The flows: one card per flow with its health, the source on air, every
// source's state and counters, and a chart of the bitrates. Cards are kept
// between snapshots (their charts hold the history); their content is redrawn.

import { h, fill, badge, bitrate, count } from './dom.js';
import { Series, BitrateChart } from './chart.js';

const FLOW_WORDS = { ok: 'ON AIR', warning: 'DEGRADED', error: 'OFF AIR', idle: 'IDLE' };
const SOURCE_WORDS = { ok: 'receiving', warning: 'TS errors', error: 'NO DATA', idle: '—' };

const ON_AIR = 'on air';

export class Flows {
  constructor(root) {
    this.root = root;
    this.cards = new Map();
  }

  render(snapshot) {
    const nowS = Math.floor(snapshot.at / 1000);
    const seen = new Set();
    const order = [];
    for (const flow of snapshot.flows) {
      seen.add(flow.arn);
      let card = this.cards.get(flow.arn);
      const names = flow.sources.map((s) => s.name);
      if (card && card.names.join('\n') !== names.join('\n')) {
        card.chart.destroy();
        this.cards.delete(flow.arn);
        card = null;
      }
      if (!card) {
        card = this.create(flow, names);
        this.cards.set(flow.arn, card);
      }
      this.update(card, flow, nowS);
      order.push(card.root);
    }
    for (const [arn, card] of this.cards) {
      if (!seen.has(arn)) { card.chart.destroy(); this.cards.delete(arn); }
    }
    if (order.length === 0) {
      fill(this.root, h('p', { class: 'empty' }, 'No flows yet.'));
    } else if (order.some((el, i) => this.root.children[i] !== el) || this.root.children.length !== order.length) {
      fill(this.root, order);
    }
  }

  create(flow, names) {
    const head = h('div', { class: 'card-head' });
    const table = h('table', { class: 'sources' });
    const plot = h('div', { class: 'chart', 'aria-label': `bitrate of ${flow.name}, last 5 minutes` });
    const messages = h('ul', { class: 'messages' });
    const root = h('article', { class: 'card flow', dataset: { flowArn: flow.arn } }, head, table, plot, messages);
    // Attached before the chart is made, so that it can measure its width.
    this.root.append(root);
    const series = new Series([...names, ON_AIR]);
    const chart = new BitrateChart(plot, series, [...names, ON_AIR], ON_AIR);
    return { root, head, table, messages, series, chart, names };
  }

  update(card, flow, nowS) {
    card.root.dataset.health = flow.health;
    const facts = [
      flow.status,
      flow.failoverMode,
      flow.activeSource && flow.failoverMode !== 'MERGE' ? `on air: ${flow.activeSource}` : null,
      flow.bitrateBps !== null ? bitrate(flow.bitrateBps) : null,
      flow.failoverSwitches ? `${flow.failoverSwitches} switch${flow.failoverSwitches === 1 ? '' : 'es'}` : null,
      flow.mergeLost !== null ? `2022-7 lost ${count(flow.mergeLost)}` : null,
    ].filter(Boolean);
    fill(card.head,
      badge(flow.health, FLOW_WORDS[flow.health]),
      h('h3', { title: flow.arn }, flow.name),
      h('span', { class: 'facts' }, facts.join(' · ')));

    const rows = flow.sources.map((s) => {
      const l = s.live;
      return h('tr', { dataset: { source: s.name, health: s.health } },
        h('td', {}, badge(s.health, SOURCE_WORDS[s.health])),
        h('th', { scope: 'row', title: s.arn }, s.name, l && l.selected && flow.sources.length > 1 ? h('span', { class: 'tag' }, 'ON AIR') : null),
        h('td', { class: 'muted' }, `${s.protocol} ${s.ingest}`),
        h('td', { class: 'num' }, l ? bitrate(l.bitrateBps) : '—'),
        h('td', { class: 'num' }, l ? count(l.packets) : '—'),
        h('td', { class: 'num' }, l ? count(l.fecRecovered) : '—'),
        h('td', { class: `num${l && l.notRecovered ? ' bad' : ''}` }, l ? count(l.notRecovered) : '—'),
        h('td', { class: `num${l && l.continuityErrors ? ' bad' : ''}` }, l ? count(l.continuityErrors) : '—'),
      );
    });
    fill(card.table,
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'state'), h('th', { scope: 'col' }, 'source'), h('th', { scope: 'col' }, 'ingest'),
        h('th', { scope: 'col', class: 'num' }, 'bitrate'), h('th', { scope: 'col', class: 'num' }, 'packets'),
        h('th', { scope: 'col', class: 'num', title: 'packets rebuilt from SMPTE 2022-1 FEC' }, 'recovered'),
        h('th', { scope: 'col', class: 'num', title: 'packets lost after FEC' }, 'lost'),
        h('th', { scope: 'col', class: 'num', title: 'TR 101 290 1.4 continuity counter errors' }, 'CC errors'))),
      h('tbody', {}, rows));
    fill(card.messages, flow.messages.map((m) => h('li', {}, m)));

    if (flow.bitrateBps !== null) {
      const values = { [ON_AIR]: flow.bitrateBps };
      for (const s of flow.sources) { if (s.live) { values[s.name] = s.live.bitrateBps; } }
      card.series.put(nowS, values);
    }
    card.chart.redraw(nowS);
  }

  // Metric history from the server: fills the seconds the page did not see.
  backfill(history) {
    for (const [arn, flow] of Object.entries(history.flows || {})) {
      const card = this.cards.get(arn);
      if (!card) { continue; }
      card.series.backfill(ON_AIR, flow.onAir || []);
      for (const [name, points] of Object.entries(flow.sources || {})) { card.series.backfill(name, points); }
      card.chart.redraw(Math.floor(history.at / 1000));
    }
  }
}
