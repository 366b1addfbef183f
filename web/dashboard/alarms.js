// CloudWatch alarms (state, reason, last change), their recent state changes,
// and the event feed, newest first.

import { h, fill, clock, ago } from './dom.js';

const STATE_HEALTH = { OK: 'ok', ALARM: 'error', INSUFFICIENT_DATA: 'idle' };

function metric(a) {
  const dims = a.dimensions.map((d) => `${d.name}=${d.value.split(':').pop()}`).join(', ');
  return `${a.namespace} ${a.metricName}${dims ? ` [${dims}]` : ''} ${a.statistic} ${a.comparison} ${a.threshold} (${a.period} s × ${a.evaluationPeriods})`;
}

export function renderAlarms(root, historyRoot, snapshot) {
  if (snapshot.alarms.length === 0) {
    fill(root, h('p', { class: 'empty' }, 'No alarms. Create them with PutMetricAlarm (aws cloudwatch put-metric-alarm).'));
  } else {
    fill(root, h('table', { class: 'alarms' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'state'), h('th', { scope: 'col' }, 'alarm'), h('th', { scope: 'col' }, 'since'))),
      h('tbody', {}, snapshot.alarms.map((a) => h('tr', { dataset: { alarm: a.name, state: a.state } },
        h('td', {}, h('span', { class: `badge ${STATE_HEALTH[a.state] || 'idle'}`, dataset: { state: a.state } }, a.state)),
        h('td', {}, h('div', { class: 'alarm-name', title: a.arn }, a.name), h('div', { class: 'muted small', title: a.reason }, a.reason),
          h('div', { class: 'muted small' }, metric(a))),
        h('td', { class: 'muted', title: new Date(a.changed).toISOString() }, clock(a.changed), h('br'), ago(a.changed, snapshot.at)))))));
  }
  fill(historyRoot, snapshot.alarmHistory.slice(0, 8).map((c) =>
    h('li', {}, h('time', {}, clock(c.at)), ' ', h('strong', {}, c.name), ` ${c.summary}`)));
  if (snapshot.alarmHistory.length === 0) { fill(historyRoot, h('li', { class: 'muted' }, 'none yet')); }
}

export function renderEvents(root, snapshot) {
  if (snapshot.events.length === 0) {
    fill(root, h('li', { class: 'muted' }, 'No events yet.'));
    return;
  }
  fill(root, snapshot.events.map((e) => h('li', { dataset: { severity: e.severity } },
    h('time', { title: new Date(e.at).toISOString() }, clock(e.at)),
    h('span', { class: 'sev' }, e.severity),
    h('span', { class: 'who', title: e.resource }, e.name || e.service),
    h('span', { class: 'msg' }, e.message))));
}
