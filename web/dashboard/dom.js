// Small DOM and formatting helpers. Text always goes in as text (never as
// HTML): names of flows and channels come from API callers.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) { continue; }
    if (k === 'class') { el.className = v; }
    else if (k === 'dataset') { Object.assign(el.dataset, v); }
    else if (k.startsWith('on')) { el.addEventListener(k.slice(2), v); }
    else { el.setAttribute(k, v === true ? '' : String(v)); }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) { continue; }
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replaces an element's children.
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
}

const HEALTH_WORDS = { ok: 'OK', warning: 'DEGRADED', error: 'FAILED', idle: 'IDLE' };

// A coloured dot with its meaning in words (colour is never the only cue).
export function badge(health, words = HEALTH_WORDS[health] || health) {
  return h('span', { class: `badge ${health}`, dataset: { health } }, words);
}

export function bitrate(bps) {
  if (bps === null || bps === undefined) { return '—'; }
  if (bps >= 1e6) { return `${(bps / 1e6).toFixed(2)} Mb/s`; }
  if (bps >= 1e3) { return `${(bps / 1e3).toFixed(0)} kb/s`; }
  return `${bps} b/s`;
}

export function count(n) {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

export function clock(ms) {
  if (!ms) { return '—'; }
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

// "12 s ago", "5 min ago", relative to the server's time.
export function ago(ms, now) {
  if (!ms || !now) { return ''; }
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) { return `${s} s ago`; }
  if (s < 3600) { return `${Math.floor(s / 60)} min ago`; }
  return `${Math.floor(s / 3600)} h ago`;
}

// The last part of an ARN, for people.
export function shortArn(arn) {
  const parts = String(arn).split(':');
  return parts.slice(-2).join(':');
}
