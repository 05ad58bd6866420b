/* gongxu operator dashboard.
 *
 * Polls GET /api/snapshot every 2 s and follows GET /events (server-sent events):
 * each event is added to the live feed and triggers a snapshot refresh, at most one
 * per 500 ms. Everything is drawn with textContent, never innerHTML, since firm and
 * posting text comes from the broker's users. No build step, no framework; the chart
 * is uPlot (vendor/).
 *
 * Language: Chinese (zh-CN) unless English was chosen with the switch in the header,
 * which is remembered in localStorage. Every text comes from the message catalogue
 * (src/data/messages/dashboard.tsv, served as /messages.js: id -> [zh-CN, en]);
 * numbers, dates and times are formatted for the language (Intl); district and
 * industry names are the vocabulary's, in the language, as /api/snapshot sends them
 * (name_zh, name_en). Switching redraws from the last snapshot and events kept. */
'use strict';

const POLL_MS = 2000;          // snapshot polling period
const DEBOUNCE_MS = 500;       // at most one event-triggered refresh per this
const FETCH_TIMEOUT_MS = 5000; // a snapshot fetch that takes longer has failed
const MAX_EVENTS = 30;         // live feed length
const EVENT_TYPES = ['demand', 'offer', 'match', 'near_miss', 'shortlist', 'state', 'docking'];
const LANGS = ['zh-CN', 'en'];
const LANG_KEY = 'gongxu.dashboard.lang'; // localStorage key of the chosen language
const TERM_RULES = ['process', 'material', 'technology']; // unmet rows that name what is missing

const $ = (id) => document.getElementById(id);
const MESSAGES = window.GX_MESSAGES || {};

/* ---------- language ---------- */

function storedLang() {
  try {
    const v = localStorage.getItem(LANG_KEY);
    return LANGS.includes(v) ? v : LANGS[0];
  } catch { return LANGS[0]; } // storage disabled: Chinese, not remembered
}

let lang = storedLang();
const zh = () => lang !== 'en';

// The text of message id in the current language, its {name}s replaced by args.
function t(id, args) {
  return parts(id, args).join('');
}

// The text of id split at its placeholders: strings, and args' values where given
// (any value, a DOM node too); {{ and }} are literal braces.
function parts(id, args) {
  const m = MESSAGES[id];
  const text = m ? m[zh() ? 0 : 1] : id; // a missing id shows itself rather than nothing
  const out = [];
  let last = 0;
  const re = /\{\{|\}\}|\{([a-z][a-z0-9_]*)\}/g;
  for (let x; (x = re.exec(text));) {
    out.push(text.slice(last, x.index));
    if (x[0] === '{{') out.push('{');
    else if (x[0] === '}}') out.push('}');
    else out.push(args && x[1] in args ? args[x[1]] : x[0]);
    last = re.lastIndex;
  }
  out.push(text.slice(last));
  return out;
}

// Fills node with message id, keeping its [data-slot] children in their {slot}s.
function fill(node, id) {
  const slots = {};
  for (const c of node.querySelectorAll(':scope > [data-slot]')) slots[c.dataset.slot] = c;
  node.replaceChildren(...parts(id, slots).filter((p) => p !== ''));
}

let fmt = null; // Intl formatters of the current language

function makeFormats() {
  const fixed = (d) => new Intl.NumberFormat(lang, { minimumFractionDigits: d, maximumFractionDigits: d });
  fmt = {
    num: new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }),
    pct: new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 }),
    fixed: [fixed(0), fixed(1), fixed(2)],
    time: new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }),
    hm: new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }),
    dateTime: new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' }),
    day: new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' }),
    list: Intl.ListFormat ? new Intl.ListFormat(lang, { type: 'conjunction' }) : null,
  };
}

// Puts every catalogue text of the static page in place.
function applyStatic() {
  document.documentElement.lang = lang;
  document.title = t('dashboard.page.title');
  for (const n of document.querySelectorAll('[data-msg]')) fill(n, n.dataset.msg);
  for (const n of document.querySelectorAll('[data-msg-title]')) n.title = t(n.dataset.msgTitle);
  for (const n of document.querySelectorAll('[data-msg-aria-label]')) n.setAttribute('aria-label', t(n.dataset.msgAriaLabel));
  for (const b of document.querySelectorAll('button[data-lang]')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
}

function setLang(l) {
  if (!LANGS.includes(l) || l === lang) return;
  lang = l;
  try { localStorage.setItem(LANG_KEY, l); } catch { /* not remembered, still switched */ }
  makeFormats();
  applyStatic();
  if (chart) { chart.destroy(); chart = null; }
  paintReady();
  paintEventsState();
  if (last) renderSnapshot(last);
  else renderFlow([]);
  renderEvents();
  if (lastError) showError(lastError);
}

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

const isNum = (n) => typeof n === 'number' && isFinite(n);
function num(n) { return isNum(n) ? fmt.num.format(n) : '—'; }
function pct(r) { return isNum(r) ? fmt.pct.format(r) : '—'; }

function duration(s) {
  if (!isNum(s)) return '—';
  const [f0, f1, f2] = fmt.fixed;
  if (s < 1) return t('dashboard.duration.s', { n: f2.format(s) });
  if (s < 60) return t('dashboard.duration.s', { n: (s < 10 ? f1 : f0).format(s) });
  if (s < 3600) return t('dashboard.duration.min', { n: (s < 600 ? f1 : f0).format(s / 60) });
  if (s < 86400) return t('dashboard.duration.h', { n: f1.format(s / 3600) });
  return t('dashboard.duration.d', { n: f1.format(s / 86400) });
}

function clock(unix) {
  const d = new Date(unix * 1000);
  return isNaN(d) ? '—' : fmt.time.format(d);
}

// A calendar day the broker sends as YYYY-MM-DD, in words of the language.
function day(ymd) {
  const d = new Date(`${ymd}T00:00:00Z`);
  return isNaN(d) ? String(ymd || '—') : fmt.day.format(d);
}

function list(items) { return fmt.list ? fmt.list.format(items) : items.join(zh() ? '、' : ', '); }

// A catalogue text by a prefix and a machine name, or the name itself when it has none.
function named(prefix, name) {
  const id = `${prefix}.${name}`;
  return id in MESSAGES ? t(id) : String(name ?? '').replace(/_/g, ' ');
}

function pick(o, base) { return (zh() ? o[base + '_zh'] : o[base + '_en']) || o[base] || ''; }

let districtById = new Map(); // the last snapshot's columns, for names in the event feed

function districtName(d) {
  if (!d) return '';
  if (d.id === 'city' || d.id === 'other') return t(`dashboard.map.district.${d.id}`);
  return pick(d, 'name') || d.id;
}
function districtOf(id) { return districtById.has(id) ? districtName(districtById.get(id)) : id; }

function replaceBody(table, rows) {
  const tb = table.tBodies[0];
  tb.replaceChildren(...rows);
}

/* ---------- header and totals ---------- */

let readyState = 'connecting'; // connecting | ready | not_ready | unreachable

function paintReady() {
  const ready = $('ready');
  ready.dataset.ready = readyState === 'ready' ? 'true' : readyState === 'connecting' ? '' : 'false';
  ready.textContent = t(`dashboard.status.${readyState}`);
}

function renderHeader(s) {
  readyState = s.ready ? 'ready' : 'not_ready';
  paintReady();
  $('version').textContent = s.version || '—';
  $('uptime').textContent = duration(s.uptime_s);
  const upd = $('updated');
  upd.dataset.at = String(s.at);
  upd.textContent = clock(s.at);
}

function renderTotals(tot) {
  for (const node of document.querySelectorAll('[data-total]')) {
    const v = tot ? tot[node.dataset.total] : undefined;
    const text = num(v);
    if (node.textContent !== text) {
      const first = node.textContent === '—';
      const same = node.dataset.value === (typeof v === 'number' ? String(v) : '');
      node.textContent = text;
      node.dataset.value = typeof v === 'number' ? String(v) : '';
      if (!first && !same) { node.classList.remove('changed'); void node.offsetWidth; node.classList.add('changed'); }
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
  if (!window.uPlot) { $('flow-chart').textContent = t('dashboard.flow.no_chart'); return; }
  if (!chart) {
    chart = new uPlot({
      width: chartWidth(),
      height: 240,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(4, max)] } },
      axes: [
        { values: (u, splits) => splits.map((v) => fmt.hm.format(new Date(v * 1000))) },
        { label: t('dashboard.flow.axis'), size: 50, values: (u, splits) => splits.map((v) => fmt.num.format(v)) },
      ],
      series: [
        { label: t('dashboard.flow.time'), value: (u, v) => (v == null ? '—' : fmt.dateTime.format(new Date(v * 1000))) },
        { label: t('dashboard.flow.postings'), stroke: '#1f6feb', fill: 'rgba(31,111,235,.08)', width: 2, points: { show: false } },
        { label: t('dashboard.flow.matches'), stroke: '#1a7f37', fill: 'rgba(26,127,55,.10)', width: 2, points: { show: false } },
      ],
    }, data, $('flow-chart'));
  } else {
    chart.setData(data);
  }
}

window.addEventListener('resize', () => { if (chart) chart.setSize({ width: chartWidth(), height: 240 }); });

/* ---------- industry map ---------- */

// Rows: industry chains (GB/T 4754 divisions, by code), named in the language, code
// beside; columns: the three districts, the rest of the city, outside it. A cell with
// open demand and no open offer in its district is a gap, marked as such.
function renderIndustryMap(districts, cells) {
  const table = $('industry-map');
  districts = Array.isArray(districts) ? districts : [];
  cells = Array.isArray(cells) ? cells : [];

  const head = el('tr', {}, el('th', { class: 'corner' }, t('dashboard.map.corner')));
  for (const d of districts) head.append(el('th', { class: 'district', 'data-district': d.id, title: d.id }, districtName(d)));
  table.tHead.replaceChildren(head);

  const chains = new Map(); // chain -> { name, byDistrict: Map }
  for (const c of cells) {
    if (!chains.has(c.chain)) chains.set(c.chain, { name: pick(c, 'name'), byDistrict: new Map() });
    chains.get(c.chain).byDistrict.set(c.district, c);
  }
  const rows = [];
  for (const chain of [...chains.keys()].sort()) {
    const { name, byDistrict } = chains.get(chain);
    const tr = el('tr', { 'data-chain': chain },
      el('th', { scope: 'row', class: 'chain' }, el('span', { class: 'chain-name' }, name || chain), ' ', el('span', { class: 'code' }, chain)));
    for (const d of districts) tr.append(mapCell(chain, name, d, byDistrict.get(d.id)));
    rows.push(tr);
  }
  if (!rows.length) {
    rows.push(el('tr', {}, el('td', { class: 'none', colspan: districts.length + 1 }, t('dashboard.map.none'))));
  }
  replaceBody(table, rows);
}

function mapCell(chain, chainName, district, c) {
  const attrs = { class: 'cell', 'data-chain': chain, 'data-district': district.id };
  const where = districtName(district);
  if (!c) {
    return el('td', {
      ...attrs, class: 'cell empty', 'data-demands': 0, 'data-offers': 0, 'data-rate': 0,
      title: t('dashboard.map.empty.title', { district: where, chain_name: chainName || chain }),
    }, '·');
  }
  let cls = 'cell', rate;
  if (c.demands_open > 0 && !(c.offers_open > 0)) {
    cls += ' gap';
    rate = t('dashboard.map.gap');
  } else if (c.demands_open > 0) {
    cls += c.match_rate >= 0.67 ? ' high' : c.match_rate >= 0.34 ? ' mid' : ' low';
    rate = t('dashboard.map.rate', { rate: pct(c.match_rate) });
  } else {
    if (c.offers_open > 0) cls += ' supply';
    rate = t('dashboard.map.no_demand');
  }
  return el('td', {
    ...attrs, class: cls, 'data-demands': c.demands_open, 'data-offers': c.offers_open,
    'data-matched': c.demands_matched, 'data-rate': c.match_rate,
    title: t('dashboard.map.cell.title', {
      chain, chain_name: chainName || '', district: where,
      demands: num(c.demands_open), matched: num(c.demands_matched), offers: num(c.offers_open),
    }),
  },
  el('span', { class: 'do' }, t('dashboard.map.cell', { demands: num(c.demands_open), offers: num(c.offers_open) })),
  el('span', { class: 'rate' }, rate));
}

/* ---------- unmet demand and by kind ---------- */

// What an unmet group needs, in the language: the terms by name (certificates by
// their scheme code, their name in the tooltip), or the rule's values in words.
function needText(g) {
  if (Array.isArray(g.need_terms)) {
    return list(g.need_terms.map((x) => (g.rule === 'certification' ? x.id : pick(x, 'name') || x.id)));
  }
  const a = g.need_args;
  if (!a || typeof a !== 'object') return g.need || '';
  switch (g.rule) {
    case 'lead_time': return t('dashboard.need.lead_time', { date: day(a.date) });
    case 'capacity': return t('dashboard.need.capacity', { quantity: num(a.quantity), unit: a.unit || '', date: day(a.date) });
    case 'min_order': return t('dashboard.need.min_order', { quantity: num(a.quantity), unit: a.unit || '' });
    case 'region': return t('dashboard.need.region');
    case 'distance': return t('dashboard.need.distance', { km: num(a.km) });
    case 'credit': return t('dashboard.need.credit', { grade: a.grade });
    case 'price': return t('dashboard.need.price', { min: num(a.min), max: num(a.max) });
    default: return t('dashboard.need.any');
  }
}

function unmetText(g) {
  if (!('need_args' in g)) return g.text || `${g.rule}: ${g.need}`; // a broker without both languages
  const args = {
    district: zh() ? g.district_name_zh : g.district_name_en,
    process: zh() ? g.process_name_zh : g.process_name_en,
    need: needText(g),
    rule: named('dashboard.rule', g.rule),
  };
  if (g.rule === 'no_candidate') return t('dashboard.unmet.no_candidate', args);
  if (g.rule === 'certification') return t('dashboard.unmet.certification', args);
  if (TERM_RULES.includes(g.rule)) return t('dashboard.unmet.term', args);
  return t('dashboard.unmet.other', args);
}

function renderUnmet(groups) {
  groups = Array.isArray(groups) ? groups : [];
  const rows = groups.map((g) => el('tr', {
    'data-rule': g.rule, 'data-need': g.need, 'data-process': g.process, 'data-district': g.district,
  },
  el('td', {
    class: 'text',
    title: Array.isArray(g.need_terms) ? g.need_terms.map((x) => `${x.id} ${pick(x, 'name')}`).join('\n') : null,
  }, unmetText(g)),
  el('td', { class: 'rule', title: g.rule }, named('dashboard.rule', g.rule)),
  el('td', { class: 'num', 'data-value': g.demands }, num(g.demands)),
  el('td', { class: 'num', 'data-value': g.near_misses }, num(g.near_misses))));
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'none', colspan: 4 }, t('dashboard.unmet.none'))));
  replaceBody($('unmet'), rows);
}

function renderByKind(kinds) {
  kinds = Array.isArray(kinds) ? kinds : [];
  const rows = kinds.map((k) => el('tr', { 'data-kind': k.kind },
    el('td', { title: k.kind }, named('dashboard.kind', k.kind)),
    el('td', { class: 'num', 'data-value': k.demands_posted }, num(k.demands_posted)),
    el('td', { class: 'num', 'data-value': k.demands_matched }, num(k.demands_matched)),
    el('td', { class: 'num', 'data-value': k.fill_rate }, pct(k.fill_rate)),
    el('td', { class: 'num', title: t('dashboard.kinds.ttfm.title', { duration: duration(k.ttfm_mean_s) }) },
      duration(k.ttfm_p50_s))));
  if (!rows.length) rows.push(el('tr', {}, el('td', { class: 'none', colspan: 5 }, t('dashboard.kinds.none'))));
  replaceBody($('by-kind'), rows);
}

/* ---------- snapshot polling ---------- */

let last = null;         // the last snapshot shown
let lastError = null;    // the failure shown, { id, args }, or null
let inFlight = false;    // a fetch is running
let again = false;       // another refresh was asked for while it ran
let lastFetch = 0;       // when the last fetch started (ms)
let pollTimer = null;
let debounceTimer = null;

function renderSnapshot(s) {
  districtById = new Map((Array.isArray(s.districts) ? s.districts : []).map((d) => [d.id, d]));
  renderHeader(s);
  renderTotals(s.totals);
  renderFlow(s.flow);
  renderIndustryMap(s.districts, s.industry_map);
  renderUnmet(s.unmet);
  renderByKind(s.by_kind);
}

// reason: { id, args } of a dashboard.error.* message, or null when all is well.
function showError(reason) {
  const box = $('fetch-error');
  lastError = reason;
  if (reason) {
    const at = $('updated').dataset.at;
    const args = { reason: t(reason.id, reason.args), seconds: num(POLL_MS / 1000) };
    box.textContent = at
      ? t('dashboard.error.unavailable_stale', { ...args, time: clock(Number(at)) })
      : t('dashboard.error.unavailable', args);
    box.hidden = false;
    document.querySelector('main').classList.add('stale');
    readyState = 'unreachable';
    paintReady();
  } else {
    box.hidden = true;
    box.textContent = '';
    document.querySelector('main').classList.remove('stale');
  }
}

class SnapshotError extends Error {
  constructor(id, args) { super(id); this.id = id; this.args = args; }
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
    if (!r.ok) throw new SnapshotError('dashboard.error.http', { status: `${r.status} ${r.statusText}`.trim() });
    const s = await r.json().catch(() => null);
    if (!s || typeof s !== 'object' || !s.totals) throw new SnapshotError('dashboard.error.not_snapshot');
    last = s;
    renderSnapshot(s);
    showError(null);
  } catch (e) {
    if (e instanceof SnapshotError) showError({ id: e.id, args: e.args });
    else if (e.name === 'AbortError') showError({ id: 'dashboard.error.timeout', args: { seconds: num(FETCH_TIMEOUT_MS / 1000) } });
    else showError({ id: 'dashboard.error.network', args: { detail: e.message || String(e) } });
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
  const who = [];
  if (ev.demand_id) who.push(t('dashboard.event.demand_id', { id: ev.demand_id }));
  if (ev.offer_id) who.push(t('dashboard.event.offer_id', { id: ev.offer_id }));
  const what = [ev.type === 'match' || ev.type === 'near_miss' ? who.join(' ↔ ') : list(who),
    ev.kind && named('dashboard.kind', ev.kind), ev.industry, ev.district && districtOf(ev.district)];
  if (typeof ev.score === 'number' && ev.type === 'match') what.push(t('dashboard.event.score', { score: num(+ev.score.toFixed(2)) }));
  if (ev.rule) what.push(t('dashboard.event.fails', { rule: named('dashboard.rule', ev.rule) }));
  if (ev.state && ev.type !== 'match') what.push(named('dashboard.state', String(ev.state).toLowerCase()));
  // a near miss's hint comes in both languages (detail_zh beside detail); docking
  // says what happened in a word of the catalogue; other details name a district
  const raw = (zh() && ev.detail_zh) || ev.detail;
  const detail = raw && (ev.type === 'docking' ? named('dashboard.docking', raw) : districtOf(raw));
  if (detail && !what.includes(detail)) what.push(detail);
  return what.filter(Boolean).join(' · ');
}

const feed = [];         // the events shown, newest first: { id, ev }
const seen = new Set();  // their ids

function eventItem({ id, ev }, fresh) {
  return el('li', { class: fresh ? 'new' : null, 'data-event-id': id, 'data-type': ev.type },
    el('span', { class: 'time' }, clock(ev.at || Date.now() / 1000)),
    el('span', { class: 'type' }, named('dashboard.event', ev.type)),
    el('span', { class: 'what' }, describe(ev)));
}

function renderEvents() {
  const items = feed.map((e) => eventItem(e, false));
  $('events').replaceChildren(...(items.length ? items : [el('li', { class: 'empty' }, t('dashboard.events.waiting'))]));
}

function addEvent(type, raw, lastId) {
  let ev;
  try { ev = JSON.parse(raw); } catch { ev = { detail: String(raw) }; }
  if (!ev || typeof ev !== 'object') ev = { detail: String(raw) };
  ev.type = ev.type || type;
  if (!ev.at) ev.at = Date.now() / 1000;
  const id = ev.id !== undefined ? String(ev.id) : lastId || '';
  if (id && seen.has(id)) return; // a replay after reconnecting
  if (id) seen.add(id);
  const list = $('events');
  const placeholder = list.querySelector('li.empty');
  if (placeholder) placeholder.remove();
  const entry = { id, ev };
  feed.unshift(entry);
  list.prepend(eventItem(entry, true));
  while (feed.length > MAX_EVENTS) {
    seen.delete(feed.pop().id);
    list.lastElementChild.remove();
  }
  soon();
}

let eventsState = 'connecting'; // the state shown: connecting | live | down

let eventsText = 'dashboard.events.connecting'; // and its text

function setEventsState(state, textId) {
  eventsState = state;
  eventsText = textId;
  paintEventsState();
}

function paintEventsState() {
  const s = $('events-status');
  s.dataset.state = eventsState;
  s.textContent = t(eventsText);
}

function follow() {
  renderEvents();
  if (!window.EventSource) { setEventsState('down', 'dashboard.events.unsupported'); return; }
  const es = new EventSource('/events');
  es.onopen = () => setEventsState('live', 'dashboard.events.live');
  es.onerror = () => (es.readyState === EventSource.CLOSED
    ? setEventsState('down', 'dashboard.events.closed')
    : setEventsState('connecting', 'dashboard.events.reconnecting'));
  for (const ty of EVENT_TYPES) es.addEventListener(ty, (m) => addEvent(ty, m.data, m.lastEventId));
  es.onmessage = (m) => addEvent('message', m.data, m.lastEventId); // unnamed events
}

/* ---------- start ---------- */

makeFormats();
applyStatic();
paintReady();
paintEventsState();
for (const b of document.querySelectorAll('button[data-lang]')) b.addEventListener('click', () => setLang(b.dataset.lang));
refresh();
follow();
