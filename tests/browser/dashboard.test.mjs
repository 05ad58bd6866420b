// The operator dashboard in a real Chromium against a real gongxud.
//
// Starts gongxud --insecure-dev on a fresh data directory with its HTTP server on a
// free loopback port, opens the dashboard, then registers firms and posts demands and
// offers with the gongxu CLI, and checks that the page follows without a reload:
// totals, the industry map, the unmet-demand table (a demand for IATF 16949 die casting
// in the development zone against an offer that lacks only the certification), the
// by-kind table, the live event feed (a near miss's hint in the page's language) and
// the snapshot-failure message. The page is in
// Chinese by default, its Chinese renders as glyphs (a CJK font is installed: not the
// boxes a missing font gives), district and industry names are the vocabulary's
// Chinese ones; the switch gives English, remembered across a reload. Saves two
// screenshots: dashboard-zh.png (Chinese, the default) and dashboard.png (English).
// One line per check (TAP); exit status 0 only when every check passed.
//
//   node dashboard.test.mjs [--gongxud PATH] [--gongxu PATH] [--artifact-dir DIR]
//   env: GONGXUD, GONGXU, ARTIFACT_DIR (defaults: ../../build/gongxud, ../../build/gongxu,
//        $TMPDIR/gongxu-browser), CHROMIUM (default /usr/bin/chromium)
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

function option(flag, env, dflt) {
  const i = process.argv.indexOf(flag);
  if (i > 0 && process.argv[i + 1]) return process.argv[i + 1];
  return process.env[env] || dflt;
}
const GONGXUD = path.resolve(option('--gongxud', 'GONGXUD', path.join(repo, 'build', 'gongxud')));
const GONGXU = path.resolve(option('--gongxu', 'GONGXU', path.join(repo, 'build', 'gongxu')));
const ARTIFACT_DIR = path.resolve(option('--artifact-dir', 'ARTIFACT_DIR', path.join(os.tmpdir(), 'gongxu-browser')));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 10000; // for the page to show a change (polls every 2 s, refreshes on events)

/* ---------- checks, TAP style ---------- */

let passed = 0, failed = 0;
class Failure extends Error {}

function ok(cond, what, detail) {
  if (cond) { passed++; console.log(`ok ${passed + failed} - ${what}`); return; }
  failed++;
  console.log(`not ok ${passed + failed} - ${what}`);
  if (detail !== undefined) console.log(`  # ${String(detail).replace(/\n/g, '\n  # ')}`);
  throw new Failure(what);
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

/* ---------- the broker ---------- */

// Made-up Unified Social Credit Codes with valid check characters (GB 32100-2015).
const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
function uscc(body17) {
  let total = 0, w = 1;
  for (const c of body17) { total += USCC_CHARS.indexOf(c) * w; w = (w * 3) % 31; }
  return body17 + USCC_CHARS[(31 - (total % 31)) % 31];
}
const ANCHOR = uscc('91410600MA44ANCH0'); // anchor firm in the development zone
const SME_CERT = uscc('91410600MA45DPMG1'); // die caster with IATF 16949, development zone
const SME_PLAIN = uscc('91410600MA45DPLA2'); // the same without IATF 16949

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

async function startBroker(tmp) {
  const httpPort = await freePort();
  const log = path.join(tmp, 'gongxud.log');
  const logFd = fs.openSync(log, 'a');
  const args = ['--insecure-dev', '-d', path.join(tmp, 'data'), '-l', 'tcp://127.0.0.1:*', '-m', '',
    '--log-level', 'debug', '-o', `http_listen=127.0.0.1:${httpPort}`];
  const proc = spawn(GONGXUD, args, { stdio: ['ignore', 'pipe', logFd] });
  fs.closeSync(logFd);
  const tail = () => { try { return fs.readFileSync(log, 'utf8').slice(-3000); } catch { return ''; } };
  const line = await withTimeout(new Promise((resolve, reject) => {
    let buf = '';
    proc.stdout.on('data', (d) => {
      buf += d;
      const l = buf.split('\n').find((x) => x.startsWith('gongxud ready'));
      if (l) resolve(l);
    });
    proc.on('error', reject);
    proc.on('exit', (code, sig) => reject(new Error(`gongxud exited (${code ?? sig}) before ready:\n${tail()}`)));
  }), 15000, 'gongxud ready line').catch((e) => { proc.kill('SIGKILL'); throw e; });
  proc.stdout.resume();
  const fields = Object.fromEntries(line.trim().split(/\s+/).slice(2).map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
  return { proc, endpoint: fields.listen, http: fields.http, line, log, tail };
}

async function stopBroker(b) {
  if (!b || b.proc.exitCode !== null || b.proc.signalCode !== null) return b?.proc.exitCode ?? null;
  const exited = new Promise((resolve) => b.proc.once('exit', (code, sig) => resolve(code ?? sig)));
  b.proc.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 10000))]);
  if (code !== 'timeout') return code;
  b.proc.kill('SIGKILL');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  return 'ignored SIGTERM (killed)';
}

/* ---------- the CLI ---------- */

let ENDPOINT = '';
const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GONGXU_')));

function gx(who, ...args) {
  const id = who === 'operator' ? ['--operator'] : ['-f', who];
  const argv = ['-s', ENDPOINT, '--server-key', 'none', '--timeout', '5', ...id, ...args];
  return new Promise((resolve) => {
    execFile(GONGXU, argv, { env: cliEnv, timeout: 30000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : String(err.code || err.signal)) : 0;
      resolve({ code, stdout, stderr, cmd: `gongxu ${argv.join(' ')}` });
    });
  });
}

async function gxOk(what, who, ...args) {
  const r = await gx(who, ...args);
  ok(r.code === 0, what, `${r.cmd}\nexit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

/* ---------- the page ---------- */

async function readTotals(page) {
  return page.evaluate(() => {
    const out = {};
    for (const n of document.querySelectorAll('[data-total]')) out[n.id] = n.dataset.value === '' || n.dataset.value === undefined ? null : Number(n.dataset.value);
    return out;
  });
}

// Waits (bounded) until fn holds in the page; true if it did.
async function until(page, fn, arg, ms = WAIT_MS) {
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 100 });
    return true;
  } catch { return false; }
}

const HAN = /\p{Script=Han}/u;

// How the page draws its Chinese: the header's product name (two characters) measured
// against its font size (CJK glyphs are one em wide each; the boxes drawn for
// characters no installed font has are narrower), and two different characters drawn
// on a canvas in the header's font: real glyphs differ, missing-glyph boxes are all alike.
async function cjkRendering(page) {
  return page.evaluate(() => {
    const brand = document.getElementById('brand');
    const cs = getComputedStyle(brand);
    const size = parseFloat(cs.fontSize);
    const ratio = brand.getBoundingClientRect().width / (brand.textContent.length * size);
    const draw = (ch) => {
      const c = document.createElement('canvas');
      c.width = c.height = 64;
      const g = c.getContext('2d');
      g.font = `48px ${cs.fontFamily}`;
      g.fillStyle = '#000';
      g.textBaseline = 'top';
      g.fillText(ch, 8, 8);
      return g.getImageData(0, 0, 64, 64).data;
    };
    const a = draw('供'), b = draw('需');
    let inkA = 0, inkB = 0, diff = 0;
    for (let i = 3; i < a.length; i += 4) {
      inkA += a[i] > 0; inkB += b[i] > 0; diff += a[i] !== b[i];
    }
    return { text: brand.textContent, ratio, size, inkA, inkB, diff, family: cs.fontFamily };
  });
}

// Texts shown as a raw message id: an id the catalogue lacks.
async function rawIds(page) {
  return page.evaluate(() => {
    const out = [];
    const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n; (n = w.nextNode());) if (/\bdashboard\.[a-z0-9_.]+/.test(n.textContent)) out.push(n.textContent);
    for (const e of document.querySelectorAll('[title]')) if (/\bdashboard\.[a-z0-9_.]+/.test(e.title)) out.push(e.title);
    return out;
  });
}

const totalAbove = (page, id, before) =>
  until(page, ([i, b]) => Number(document.getElementById(i)?.dataset.value) > b, [id, before]);

async function run(b) {
  const base = b.http;
  ok(/^http:\/\/127\.0\.0\.1:\d+$/.test(base || ''), 'gongxud ready line names its http address', b.line);
  ENDPOINT = b.endpoint;

  // The assets and the snapshot, straight over HTTP.
  for (const [p, type] of [['/', 'text/html'], ['/app.js', 'javascript'], ['/messages.js', 'javascript'], ['/app.css', 'text/css'],
    ['/vendor/uPlot.iife.min.js', 'javascript'], ['/vendor/uPlot.min.css', 'text/css']]) {
    const r = await withTimeout(fetch(base + p), 5000, `GET ${p}`);
    const ct = r.headers.get('content-type') || '';
    ok(r.status === 200 && ct.includes(type), `GET ${p} is 200 ${type}`, `${r.status} ${ct}`);
  }
  const snap = await (await withTimeout(fetch(base + '/api/snapshot'), 5000, 'GET /api/snapshot')).json();
  const missing = ['at', 'version', 'ready', 'uptime_s', 'totals', 'flow', 'districts', 'industry_map', 'unmet', 'by_kind']
    .filter((k) => !(k in snap));
  ok(missing.length === 0, 'GET /api/snapshot has every top-level field', `missing: ${missing}`);

  const browser = await withTimeout(chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }), 30000, 'launch chromium');
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(WAIT_MS);
    const problems = [], foreign = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // Chromium asks for /favicon.ico on its own; the broker need not have one.
      if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) problems.push(`console: ${m.text()} (${m.location().url})`);
    });
    page.on('request', (r) => { if (!r.url().startsWith(base + '/')) foreign.push(r.url()); });

    await page.goto(base + '/', { waitUntil: 'load', timeout: 15000 });
    await page.evaluate(() => { window.__sameDocument = true; });
    ok(await until(page, () => document.getElementById('ready').dataset.ready === 'true'), 'header shows ready');
    const version = await page.textContent('#version');
    ok(version === snap.version, `header shows version ${snap.version}`, `got ${version}`);
    ok(await until(page, () => document.getElementById('events-status').dataset.state === 'live'), 'event stream connected');
    ok(await page.locator('#flow-chart canvas').count() > 0, 'flow chart is drawn');

    // Chinese by default, drawn as glyphs.
    ok(await page.evaluate(() => document.documentElement.lang) === 'zh-CN', 'the page is zh-CN by default (<html lang>)');
    const zhTexts = await page.$$eval('[data-msg]', (ns) => ns.map((n) => n.textContent));
    const latinOnly = zhTexts.filter((x) => !HAN.test(x) && !['中文', 'English'].includes(x));
    ok(zhTexts.length > 40 && latinOnly.length === 0, `every catalogue text of the page is Chinese (${zhTexts.length})`,
      `not Chinese: ${JSON.stringify(latinOnly)}`);
    ok(HAN.test(await page.title()) && await page.textContent('#brand') === '供需', 'title and header are Chinese (供需)',
      `${await page.title()} / ${await page.textContent('#brand')}`);
    const glyphs = await cjkRendering(page);
    console.log(`# CJK rendering ${JSON.stringify(glyphs)}`);
    ok(glyphs.ratio > 0.9 && glyphs.ratio < 1.15, 'the header\'s 供需 is two CJK glyphs wide, not two missing-glyph boxes',
      `width / (chars x font size) = ${glyphs.ratio.toFixed(3)}`);
    ok(glyphs.inkA > 50 && glyphs.inkB > 50 && glyphs.diff > 50, '供 and 需 draw as different glyphs in the header\'s font',
      JSON.stringify(glyphs));
    const t0 = await readTotals(page);
    ok(Object.values(t0).every((v) => typeof v === 'number'), 'initial totals are shown', JSON.stringify(t0));
    console.log(`# initial totals ${JSON.stringify(t0)}`);

    // Firms, then a demand nobody can serve.
    const date = new Date(Date.now() + 120 * 86400e3).toISOString().slice(0, 10);
    await gxOk('register the anchor firm', 'operator', 'register', '--id', ANCHOR, '--name', 'Hebi Auto Electronics 鹤壁汽车电子',
      '--county', '410611', '--zone', 'hebi.etdz', '--lat', '35.73', '--lon', '114.35', '--credit', 'A', '--role', 'anchor');
    await gxOk('register a certified die caster', 'operator', 'register', '--id', SME_CERT, '--name', 'Dev Zone Magnesium Die Casting',
      '--county', '410611', '--zone', 'hebi.etdz', '--lat', '35.72', '--lon', '114.33', '--credit', 'B', '--role', 'sme',
      '--cert', 'IATF16949:IATF-0001:2030-06-30', '--cert', 'ISO9001:Q-0001:2030-06-30');
    await gxOk('register an uncertified die caster', 'operator', 'register', '--id', SME_PLAIN, '--name', 'Dev Zone Light Alloy Works',
      '--county', '410611', '--zone', 'hebi.etdz', '--lat', '35.71', '--lon', '114.34', '--credit', 'B', '--role', 'sme',
      '--cert', 'ISO9001:Q-0002:2030-06-30');
    ok(await totalAbove(page, 'total-firms', t0['total-firms'] + 2), 'firms total rises by 3 without reload');

    await gxOk('post a demand for IATF 16949 die casting in the development zone', ANCHOR, 'post', 'demand',
      '--kind', 'processing', '--industry', 'C3670', '--process', 'casting.die', '--quantity', '1000', '--unit', 'pcs',
      '--needed-by', date, '--cert', 'IATF 16949', '--scope', 'same_district', '--title', 'Die-cast brackets 压铸支架');
    ok(await totalAbove(page, 'total-demands-open', t0['total-demands-open']), 'open demands rise without reload');
    ok(await totalAbove(page, 'total-demands-unmatched', t0['total-demands-unmatched']), 'unmatched demands rise');
    ok(await until(page, () => !!document.querySelector('#events li[data-type="demand"]')), 'live feed shows the demand event');
    ok(await until(page, () => [...document.querySelectorAll('#industry-map td[data-district="hebi.etdz"]')]
      .some((td) => Number(td.dataset.demands) > 0)), 'industry map shows an open demand in the development zone');
    ok(await until(page, () => { const td = document.querySelector('#industry-map td.cell.gap[data-district="hebi.etdz"][data-chain="C36"]');
      return td && /缺口/.test(td.textContent); }),
    'demand with no offer in the district is marked as a gap (缺口)', await page.textContent('#industry-map tbody'));

    // The same offer, but from a firm without the certification: a near miss.
    await gxOk('post the die-casting offer of the uncertified firm', SME_PLAIN, 'post', 'offer',
      '--kind', 'processing', '--industry', 'C3670', '--process', 'casting.die', '--capacity', '20000',
      '--min-order', '100', '--lead-time', '14', '--title', 'Die casting up to 800 t');
    ok(await totalAbove(page, 'total-offers-open', t0['total-offers-open']), 'open offers rise without reload');
    ok(await until(page, () => [...document.querySelectorAll('#unmet tbody tr[data-rule="certification"]')]
      .some((tr) => /IATF ?16949/.test(tr.cells[0].textContent) && /鹤壁经济技术开发区/.test(tr.cells[0].textContent) &&
        /压铸/.test(tr.cells[0].textContent) && tr.cells[1].textContent === '资质认证')),
    'unmet table names the missing capability in Chinese (IATF 16949, 压铸, 鹤壁经济技术开发区, 资质认证)',
    await page.textContent('#unmet tbody'));
    // The near miss in the live feed: its hint in the page's language, not the broker's English.
    const nearMiss = () => [...document.querySelectorAll('#events li[data-type="near_miss"] .what')].map((n) => n.textContent).join('\n');
    ok(await until(page, () => [...document.querySelectorAll('#events li[data-type="near_miss"] .what')]
      .some((n) => /缺少 ?IATF ?16949 ?认证/.test(n.textContent) && !/to qualify/.test(n.textContent))),
    'live feed shows the near miss\'s hint in Chinese (缺少 IATF 16949 认证…)', await page.evaluate(nearMiss));
    const unmet = await page.$$eval('#unmet tbody tr[data-rule]', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
    console.log(`# unmet rows ${JSON.stringify(unmet)}`);

    // A pair that does match.
    await gxOk('post an anodizing demand', ANCHOR, 'post', 'demand', '--kind', 'processing', '--industry', 'C3670',
      '--process', 'surface.anodizing', '--quantity', '500', '--unit', 'pcs', '--needed-by', date,
      '--scope', 'three_districts', '--title', 'Anodized covers');
    await gxOk('post a matching anodizing offer', SME_CERT, 'post', 'offer', '--kind', 'processing', '--industry', 'C3670',
      '--process', 'surface.anodizing', '--capacity', '50000', '--lead-time', '7', '--title', 'Anodizing line');
    ok(await totalAbove(page, 'total-matches', t0['total-matches']), 'matches total rises without reload');
    ok(await until(page, () => !!document.querySelector('#events li[data-type="match"]')), 'live feed shows the match event');
    // The broker recomputes its 30-day figures at most every 30 s: the page must show what it serves.
    let served = null, shown = null;
    for (const end = Date.now() + WAIT_MS; Date.now() < end;) {
      const s = await (await withTimeout(fetch(base + '/api/snapshot'), 5000, 'GET /api/snapshot')).json();
      served = s.by_kind.find((k) => k.kind === 'processing')?.demands_posted;
      shown = Number(await page.getAttribute('#by-kind tr[data-kind="processing"] td:nth-child(2)', 'data-value').catch(() => NaN));
      if (typeof served === 'number' && shown === served) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    ok(typeof served === 'number' && shown === served, `by-kind table shows the served processing demands (${served})`,
      `served ${served}, shown ${shown}`);
    ok(await page.$eval('#by-kind tr[data-kind="processing"] td', (td) => td.textContent) === '配套加工',
      'by-kind table names the kind in Chinese (配套加工)');

    // The industry map in the vocabulary's Chinese: districts as columns, chains as rows.
    const cols = await page.$$eval('#industry-map thead th.district', (ths) => ths.map((th) => [th.dataset.district, th.textContent]));
    const col = Object.fromEntries(cols);
    ok(col['410611'] === '淇滨区' && col['hebi.etdz'] === '鹤壁经济技术开发区' && /城乡一体化示范区/.test(col['hebi.urdz'] || '') &&
      HAN.test(col.city || '') && HAN.test(col.other || ''), 'industry map columns are the districts\' Chinese names', JSON.stringify(cols));
    ok(/汽车制造业/.test(await page.textContent('#industry-map tbody tr[data-chain="C36"] th')),
      'industry map row C36 reads 汽车制造业', await page.textContent('#industry-map tbody'));
    ok(await until(page, () => { const td = document.querySelector('#industry-map td.cell[data-district="hebi.etdz"][data-chain="C36"]');
      return td && !td.classList.contains('gap') && Number(td.dataset.offers) > 0; }),
    'the gap mark goes once the district has an offer');
    const raw = await rawIds(page);
    ok(raw.length === 0, 'no text shows a raw message id (every id is in the catalogue)', raw.join('\n'));

    ok(await page.evaluate(() => window.__sameDocument === true), 'the page was never reloaded');
    ok(problems.length === 0, 'no script errors or CSP violations in the page', problems.join('\n'));
    ok(foreign.length === 0, 'the page loads nothing from outside the broker', foreign.join('\n'));

    fs.mkdirSync(ARTIFACT_DIR, { recursive: true });
    const shotZh = path.join(ARTIFACT_DIR, 'dashboard-zh.png');
    await page.screenshot({ path: shotZh, fullPage: true, timeout: 15000 });
    ok(fs.statSync(shotZh).size > 0, `Chinese screenshot saved to ${shotZh}`);

    // A failing snapshot fetch is said plainly, and the message goes once it works again.
    await page.route('**/api/snapshot', (r) => r.fulfill({ status: 503, contentType: 'text/plain', body: 'down for test' }));
    ok(await until(page, () => { const e = document.getElementById('fetch-error'); return !e.hidden && /快照获取失败.*503/.test(e.textContent); }),
      'a failing snapshot fetch shows a clear message (快照获取失败 … 503)');
    await page.unroute('**/api/snapshot');
    ok(await until(page, () => document.getElementById('fetch-error').hidden), 'the message goes when the snapshot is back');
    problems.length = 0; // the console's own line for the 503 just asked for

    // The switch: English at once, without a reload, and still English after one.
    await page.click('#lang-en');
    ok(await until(page, () => document.documentElement.lang === 'en' && document.getElementById('brand').textContent === 'gongxu' &&
      document.getElementById('lang-en').getAttribute('aria-pressed') === 'true'), 'the switch gives English (<html lang="en">)');
    ok(await until(page, () => [...document.querySelectorAll('#unmet tbody tr[data-rule="certification"]')]
      .some((tr) => /IATF ?16949/.test(tr.cells[0].textContent) && /Development Zone/.test(tr.cells[0].textContent) &&
        tr.cells[1].textContent === 'certification')),
    'unmet table in English (IATF 16949, Development Zone, certification)', await page.textContent('#unmet tbody'));
    ok(await page.textContent('#industry-map thead th[data-district="410611"]') === 'Qibin District' &&
      /Manufacture of motor vehicles/.test(await page.textContent('#industry-map tbody tr[data-chain="C36"] th')),
    'industry map in English (Qibin District, Manufacture of motor vehicles)');
    ok(await until(page, () => [...document.querySelectorAll('#events li[data-type="near_miss"] .what')]
      .some((n) => /add IATF ?16949 to qualify/.test(n.textContent) && !/[\u4e00-\u9fff]/.test(n.textContent))),
    'live feed shows the near miss\'s hint in English after the switch (add IATF16949 to qualify)', await page.evaluate(nearMiss));
    const enTexts = await page.$$eval('[data-msg]', (ns) => ns.map((n) => n.textContent));
    const stillHan = enTexts.filter((x) => HAN.test(x) && x !== '中文');
    ok(stillHan.length === 0, 'every catalogue text of the page is English', JSON.stringify(stillHan));
    ok(await page.evaluate(() => window.__sameDocument === true), 'switching did not reload the page');

    await page.reload({ waitUntil: 'load', timeout: 15000 });
    ok(await until(page, () => document.documentElement.lang === 'en' && document.getElementById('brand').textContent === 'gongxu' &&
      document.getElementById('ready').dataset.ready === 'true'), 'English is remembered across a reload');
    ok(await until(page, () => [...document.querySelectorAll('#unmet tbody tr[data-rule]')]
      .some((tr) => tr.cells[1].textContent === 'certification')), 'the reloaded page draws its tables in English');
    ok(problems.length === 0, 'no script errors after switching and reloading', problems.join('\n'));
    const shot = path.join(ARTIFACT_DIR, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true, timeout: 15000 });
    ok(fs.statSync(shot).size > 0, `English screenshot saved to ${shot}`);
  } finally {
    await withTimeout(browser.close(), 10000, 'close chromium').catch(() => {});
  }
}

async function main() {
  for (const [name, p] of [['GONGXUD', GONGXUD], ['GONGXU', GONGXU]]) {
    try { fs.accessSync(p, fs.constants.X_OK); } catch { console.log(`Bail out! ${name}: no executable at ${p}`); process.exit(2); }
  }
  try { fs.accessSync(CHROMIUM, fs.constants.X_OK); } catch { console.log(`Bail out! no Chromium at ${CHROMIUM}`); process.exit(2); }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gx-browser.'));
  let broker = null, error = null;
  try {
    broker = await startBroker(tmp);
    console.log(`# ${broker.line.trim()}`);
    await withTimeout(run(broker), 180000, 'the whole test');
  } catch (e) {
    error = e;
  } finally {
    const code = await stopBroker(broker);
    if (broker) {
      if (!error || error instanceof Failure) {
        try { ok(code === 0, 'gongxud stops cleanly on SIGTERM', `exit ${code}`); } catch { /* counted */ }
      }
      if (error || failed) console.log(`# gongxud log (tail):\n# ${broker.tail().split('\n').join('\n# ')}`);
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (error && !(error instanceof Failure)) {
    failed++;
    console.log(`not ok ${passed + failed} - ${error.message}`);
  }
  console.log(`1..${passed + failed}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main();
