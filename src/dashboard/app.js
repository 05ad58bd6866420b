/* gongxu operator dashboard.
 *
 * Polls GET /api/snapshot every 2 s and follows GET /events (server-sent events):
 * each event is added to the live feed and triggers a snapshot refresh, at most one
 * per 500 ms. Everything is drawn with textContent, never innerHTML, since firm and
 * posting text comes from the broker's users. No build step, no framework; the chart
 * is uPlot (vendor/). */
'use strict';

const POLL_MS = 2000;          // snapshot polling period
const DEBOUNCE_MS = 500;       // at most one event-triggered refresh per this
const FETCH_TIMEOUT_MS = 5000; // a snapshot fetch that takes longer has failed
const MAX_EVENTS = 30;         // live feed length
const EVENT_TYPES = ['demand', 'offer', 'match', 'near_miss', 'shortlist', 'state', 'docking'];

const $ = (id) => document.getElementById(id);
const nf = new Intl.NumberFormat('en-US');

/* ---------- small helpers ---------- */

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else if (k === 'title') e.title = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

function num(n) { return typeof n === 'number' && isFinite(n) ? nf.format(n) : '—'; }
function pct(r) { return typeof r === 'number' && isFinite(r) ? Math.round(r * 100) + '%' : '—'; }

function duration(s) {
  if (typeof s !== 'number' || !isFinite(s)) return '—';
  if (s < 1) return s.toFixed(2) + ' s';
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
  if (s < 3600) return (s / 60).toFixed(s < 600 ? 1 : 0) + ' min';
  if (s < 86400) return (s / 3600).toFixed(1) + ' h';
  return (s / 86400).toFixed(1) + ' d';
}

function clock(unix) {
  const d = new Date(unix * 1000);
  return isNaN(d) ? '—' : d.toTimeString().slice(0, 8);
}

function replaceBody(table, rows) {
  const tb = table.tBodies[0];
  tb.replaceChildren(...rows);
}

/* ---------- header and totals ---------- */

function renderHeader(s) {
  const ready = $('ready');
  ready.dataset.ready = String(!!s.ready);
  ready.textContent = s.ready ? 'ready' : 'not ready';
  $('version').textContent = s.version || '—';
  $('uptime').textContent = duration(s.uptime_s);
  const upd = $('updated');
  upd.dataset.at = String(s.at);
  upd.textContent = clock(s.at);
}

function renderTotals(t) {
  for (const node of document.querySelectorAll('[data-total]')) {
    const v = t ? t[node.dataset.total] : undefined;
    const text = num(v);
    if (node.textContent !== text) {
      const first = node.textContent === '—';
      node.textContent = text;
      node.dataset.value = typeof v === 'number' ? String(v) : '';
      if (!first) { node.classList.remove('changed'); void node.offsetWidth; node.classList.add('changed'); }
    }
  }
}

/* ---------- flow chart ---------- */

let chart = null;

function chartWidth() {
  return Math.max(300, $('flow-chart').clientWidth || 600);
}

function renderFlow(flow) {
  const pts = Array.isArray(flow) ? flow : [];
  const data = [pts.map((p) => p.t), pts.map((p) => p.postings), pts.map((p) => p.matches)];
  if (!window.uPlot) { $('flow-chart').textContent = 'chart library not loaded'; return; }
  if (!chart) {
    chart = new uPlot({
      width: chartWidth(),
      height: 240,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(4, max)] } },
      axes: [{}, { label: 'per minute', size: 50 }],
      series: [
        {},
        { label: 'postings', stroke: '#1f6feb', fill: 'rgba(31,111,235,.08)', width: 2, points: { show: false } },
        { label: 'matches', stroke: '#1a7f37', fill: 'rgba(26,127,55,.10)', width: 2, points: { show: false } },
      ],
    }, data, $('flow-chart'));
    window.addEventListener('resize', () => chart.setSize({ width: chartWidth(), height: 240 }));
  } else {
    chart.setData(data);
  }
}

/* ---------- industry map ---------- */

function renderIndustryMap(districts, cells) {
  const table = $('industry-map');
  districts = Array.isArray(districts) ? districts : [];
  cells = Array.isArray(cells) ? cells : [];

  const head = el('tr', {}, el('th', {}, 'industry chain'));
  for (const d of districts) head.append(el('th', { class: 'district', 'data-district': d.id, title: d.id }, d.name || d.id));
  table.tHead.replaceChildren(head);

  const chains = new Map(); // chain -> { name, byDistrict: Map }
  for (const c of cells) {
    if (!chains.has(c.chain)) chains.set(c.chain, { name: c.name, byDistrict: new Map() });
    chains.get(c.chain).byDistrict.set(c.district, c);
  }
  const rows = [];
  for (const chain of [...chains.keys()].sort()) {
    const { name, byDistrict } = chains.get(chain);
    const tr = el('tr', { 'data-chain': chain },
      el('th', { scope: 'row' }, el('span', { class: 'code' }, chain), ' ', name || ''));
    for (const d of districts) tr.append(mapCell(chain, d, byDistrict.get(d.id)));
    rows.push(tr);
  }
  if (!rows.length) {
    rows.push(el('tr', {}, el('td', { class: 'none', colspan: districts.length + 1 }, 'No open demands or offers yet')));
  }
  replaceBody(table, rows);
}

function mapCell(chain, district, c) {
  const attrs = { class: 'cell', 'data-chain': chain, 'data-district': district.id };
  if (!c) return el('td', { ...attrs, class: 'cell empty', 'data-demands': 0, 'data-offers': 0, 'data-rate': 0 }, '·');
  let cls = 'cell';
  if (c.demands_open > 0) cls += c.match_rate >= 0.67 ? ' high' : c.match_rate >= 0.34 ? ' mid' : ' low';
  else if (c.offers_open > 0) cls += ' supply';
  const rate = c.demands_open > 0 ? pct(c.match_rate) + ' matched' : 'no demand';
  return el('td', {
    ...attrs, class: cls, 'data-demands': c.demands_open, 'data-offers': c.offers_open,
    'data-matched': c.demands_matched, 'data-rate': c.match_rate,
    title: `${chain} ${c.name || ''} in ${district.name || district.id}: ${c.demands_open} open demands ` +
      `(${c.demands_matched} matched), ${c.offers_open} open offers`,
  }, el('span', { class: 'do' }, `${num(c.demands_open)} / ${num(c.offers_open)}`), el('span', { class: 'rate' }, rate));
}

/* ---------- unmet demand and by kind ---------- */

function renderUnmet(groups) {
  groups = Array.isArray(groups) ? groups : [];
  const rows = groups.map((g) => el('tr', {
    'data-rule': g.rule, 'data-need': g.need, 'data-process': g.process, 'data-district': g.district,
  },
  el('td', { class: 'text' }, g.text || `${g.rule}: ${g.need}`),
  el('td', { class: 'rule' }, g.rule),
  el('td', { class: 'num' }, num(g.demands)),
  el('td', { class: 'num' }, num(g.near_misses))));
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'none', colspan: 4 }, 'No unmet demand recorded')));
  replaceBody($('unmet'), rows);
}

function renderByKind(kinds) {
  kinds = Array.isArray(kinds) ? kinds : [];
  const rows = kinds.map((k) => el('tr', { 'data-kind': k.kind },
    el('td', {}, String(k.kind).replace(/_/g, ' ')),
    el('td', { class: 'num' }, num(k.demands_posted)),
    el('td', { class: 'num' }, num(k.demands_matched)),
    el('td', { class: 'num' }, pct(k.fill_rate)),
    el('td', { class: 'num', title: 'mean ' + duration(k.ttfm_mean_s) }, duration(k.ttfm_p50_s))));
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'none', colspan: 5 }, 'No demands in the last 30 days')));
  replaceBody($('by-kind'), rows);
}

/* ---------- snapshot polling ---------- */

let inFlight = false;    // a fetch is running
let again = false;       // another refresh was asked for while it ran
let lastFetch = 0;       // when the last fetch started (ms)
let pollTimer = null;
let debounceTimer = null;

function showError(msg) {
  const box = $('fetch-error');
  if (msg) {
    const at = $('updated').dataset.at;
    box.textContent = `Snapshot unavailable: ${msg}. Retrying every ${POLL_MS / 1000} s` +
      (at ? `; figures below are from ${clock(Number(at))}.` : '.');
    box.hidden = false;
    document.querySelector('main').classList.add('stale');
    const ready = $('ready');
    ready.dataset.ready = 'false';
    ready.textContent = 'unreachable';
  } else {
    box.hidden = true;
    box.textContent = '';
    document.querySelector('main').classList.remove('stale');
  }
}

async function refresh() {
  if (inFlight) { again = true; return; }
  inFlight = true;
  lastFetch = Date.now();
  clearTimeout(pollTimer);
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
  try {
    const r = await fetch('/api/snapshot', { cache: 'no-store', signal: ctl.signal, headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`HTTP ${r.status} ${r.statusText}`.trim());
    const s = await r.json();
    if (!s || typeof s !== 'object' || !s.totals) throw new Error('the reply is not a snapshot');
    renderHeader(s);
    renderTotals(s.totals);
    renderFlow(s.flow);
    renderIndustryMap(s.districts, s.industry_map);
    renderUnmet(s.unmet);
    renderByKind(s.by_kind);
    showError(null);
  } catch (e) {
    showError(e.name === 'AbortError' ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : (e.message || String(e)));
  } finally {
    clearTimeout(timer);
    inFlight = false;
    if (again) { again = false; soon(); }
    pollTimer = setTimeout(refresh, POLL_MS);
  }
}

/* An event-triggered refresh: now, or as soon as 500 ms have passed since the last. */
function soon() {
  if (debounceTimer) return;
  const wait = Math.max(0, lastFetch + DEBOUNCE_MS - Date.now());
  debounceTimer = setTimeout(() => { debounceTimer = null; refresh(); }, wait);
}

/* ---------- live events ---------- */

function describe(ev) {
  const parts = [];
  if (ev.demand_id) parts.push(`demand #${ev.demand_id}`);
  if (ev.offer_id) parts.push(`offer #${ev.offer_id}`);
  const who = parts.join(ev.type === 'match' || ev.type === 'near_miss' ? ' ↔ ' : ', ');
  const what = [who, ev.kind && String(ev.kind).replace(/_/g, ' '), ev.industry, ev.district];
  if (typeof ev.score === 'number' && ev.type === 'match') what.push('score ' + +ev.score.toFixed(2));
  if (ev.rule) what.push('fails ' + ev.rule);
  if (ev.state && ev.type !== 'match') what.push(String(ev.state).toLowerCase());
  if (ev.detail && !what.includes(ev.detail)) what.push(ev.detail);
  return what.filter(Boolean).join(' · ');
}

const seen = new Set();

function addEvent(type, raw, lastId) {
  let ev;
  try { ev = JSON.parse(raw); } catch { ev = { detail: String(raw) }; }
  ev.type = ev.type || type;
  const id = ev.id !== undefined ? String(ev.id) : lastId || '';
  if (id && seen.has(id)) return; // a replay after reconnecting
  if (id) seen.add(id);
  const list = $('events');
  const placeholder = list.querySelector('li.empty');
  if (placeholder) placeholder.remove();
  list.prepend(el('li', { class: 'new', 'data-event-id': id, 'data-type': ev.type },
    el('span', { class: 'time' }, clock(ev.at || Date.now() / 1000)),
    el('span', { class: 'type' }, String(ev.type).replace(/_/g, ' ')),
    el('span', { class: 'what' }, describe(ev))));
  while (list.children.length > MAX_EVENTS) {
    seen.delete(list.lastElementChild.dataset.eventId);
    list.lastElementChild.remove();
  }
  soon();
}

function setEventsState(state, text) {
  const s = $('events-status');
  s.dataset.state = state;
  s.textContent = text;
}

function follow() {
  $('events').replaceChildren(el('li', { class: 'empty' }, 'Waiting for events…'));
  if (!window.EventSource) { setEventsState('down', 'not supported'); return; }
  const es = new EventSource('/events');
  es.onopen = () => setEventsState('live', 'live');
  es.onerror = () => setEventsState(es.readyState === EventSource.CLOSED ? 'down' : 'connecting',
    es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…');
  for (const t of EVENT_TYPES) es.addEventListener(t, (m) => addEvent(t, m.data, m.lastEventId));
  es.onmessage = (m) => addEvent('message', m.data, m.lastEventId); // unnamed events
}

refresh();
follow();
