// `onair demo`'s panel: buttons that break and mend the primary encoder, and
// what the demo's own SNS subscriber received. Shown only when the snapshot
// has a `demo` section (a server started by `onair demo`).

import { h, fill, clock } from './dom.js';

const WORDS = {
  stop: ['Stop', 'the primary encoder sends nothing: the flow loses its source and the channel fails over'],
  black: ['Black', 'a black picture'],
  silence: ['Silence', 'no sound'],
  freeze: ['Freeze', 'the picture stops moving'],
  restore: ['Restore', 'the moving pattern and its tone again'],
};

export class Demo {
  constructor(section, root) {
    this.section = section;
    this.root = root;
    this.pending = null;
    this.error = null;
  }

  async press(action) {
    this.pending = action;
    this.error = null;
    try {
      const resp = await fetch(`dashboard/api/demo/primary/${action}`, {
        method: 'POST', headers: { 'X-Onair-Demo': '1' }, cache: 'no-store',
      });
      if (!resp.ok) { this.error = `${action}: ${resp.status} ${(await resp.text()).trim()}`; }
    } catch (e) {
      this.error = `${action}: ${e}`;
    }
    this.pending = null;
  }

  render(snapshot) {
    const demo = snapshot.demo;
    this.section.hidden = !demo;
    if (!demo) { return; }
    const buttons = demo.actions.map((a) => h('button', {
      type: 'button', title: (WORDS[a] || [a, ''])[1], dataset: { action: a },
      'aria-pressed': demo.primary === a || (a === 'restore' && demo.primary === 'sending') ? 'true' : 'false',
      disabled: this.pending !== null,
      onclick: () => this.press(a),
    }, (WORDS[a] || [a])[0]));
    const inbox = demo.notifications.length === 0
      ? [h('li', { class: 'muted' }, 'nothing yet')]
      : demo.notifications.map((n) => h('li', { dataset: { state: n.state || '', kind: n.kind }, title: n.message },
        h('time', {}, n.timestamp ? clock(Date.parse(n.timestamp)) : ''), ' ',
        n.alarm
          ? [h('strong', {}, n.state), ` ${n.alarm}`]
          : h('span', {}, n.kind === 'SubscriptionConfirmation' ? 'subscription confirmed' : (n.subject || n.message))));
    fill(this.root,
      h('div', { class: 'demo-controls' },
        h('span', { class: 'label' }, 'Primary encoder'),
        h('strong', { id: 'demo-primary', dataset: { primary: demo.primary } }, demo.primary),
        h('span', { class: 'buttons' }, buttons)),
      this.error ? h('div', { class: 'problems', role: 'alert' }, this.error) : null,
      h('h3', {}, 'Notifications ', h('small', { class: 'muted', title: demo.subscriber }, 'the demo\'s SNS subscriber')),
      h('ol', { id: 'demo-inbox', class: 'history' }, inbox));
  }
}
