// The browser test's npm dependencies install and run on Debian 12's own node.
//
// A fresh Debian 12 has nodejs 18.20.4; the lock file once pinned a playwright-core
// whose engines.node is ">=20", so browser.dashboard failed there while a development
// machine with a newer node passed (issue 12). This checks, without the network and
// whatever node runs it, that every package in package-lock.json admits node 18.20.4,
// that npm is told to refuse a node a package does not admit (.npmrc engine-strict),
// and that scripts/deps.sh names the same floor as package.json. TAP; exit 0 only
// when every check passed.
//
//   node engines.test.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DEBIAN12_NODE = '18.20.4'; // bookworm's nodejs 18.20.4+dfsg-1~deb12u1

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

let passed = 0, failed = 0;
function ok(cond, what, detail) {
  if (cond) { passed++; console.log(`ok ${passed + failed} - ${what}`); return; }
  failed++;
  console.log(`not ok ${passed + failed} - ${what}`);
  if (detail !== undefined) console.log(`  # ${String(detail).replace(/\n/g, '\n  # ')}`);
}

/* ---------- enough of npm's semver ranges: || of space-separated comparators ---------- */

function parse(v) { // "18", "18.2", "18.2.1", "18.x" -> [18, 2|null, 1|null]
  const m = /^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$/.exec(v);
  if (!m) throw new Error(`cannot read version "${v}"`);
  return [m[1], m[2], m[3]].map((p) => (p === undefined || /[xX*]/.test(p) ? null : Number(p)));
}
function cmp(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
function lower(p) { return p.map((x) => x ?? 0); }
function upper(p) { // exclusive bound: 18 -> 19.0.0, 18.2 -> 18.3.0, 18.2.1 -> 18.2.2, * -> none
  const k = p.indexOf(null);
  if (k === 0) return null;
  if (k < 0) return [p[0], p[1], p[2] + 1];
  const u = p.slice(0, k).concat([0, 0, 0]).slice(0, 3);
  u[k - 1]++;
  return u;
}
function comparator(c, v) {
  const m = /^(>=|<=|>|<|=|\^|~)?\s*(.+)$/.exec(c);
  if (!m) throw new Error(`cannot read comparator "${c}"`);
  const op = m[1] || '=', p = parse(m[2]), lo = lower(p), up = upper(p);
  const below = (u) => !u || cmp(v, u) < 0;
  switch (op) {
    case '>=': return cmp(v, lo) >= 0;
    case '<': return cmp(v, lo) < 0;
    case '>': return up !== null && cmp(v, up) >= 0;
    case '<=': return below(up);
    case '=': return cmp(v, lo) >= 0 && below(up);
    case '~': return cmp(v, lo) >= 0 && below(upper([p[0], p[1], null]));
    case '^': { // up to the next change of the leftmost non-zero part
      const k = lo[0] > 0 || p[1] === null ? 1 : lo[1] > 0 || p[2] === null ? 2 : 3;
      return cmp(v, lo) >= 0 && below(upper(lo.slice(0, k).concat([null, null]).slice(0, 3)));
    }
  }
  return false;
}
function satisfies(version, range) {
  const v = lower(parse(version));
  return range.split('||').some((alt) => {
    const cs = alt.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    if (cs.includes('-')) throw new Error(`hyphen ranges are not read here: "${range}"`);
    return cs.every((c) => comparator(c, v));
  });
}

/* ---------- the checks ---------- */

// the range reader itself, on the forms npm writes
for (const [v, r, want] of [['18.20.4', '>=18', true], ['18.20.4', '>=20', false], ['18.20.4', '^18.17.0', true],
  ['18.20.4', '>=14.17 <19 || >=20', true], ['18.20.4', '^20.17.0 || >=22.9.0', false], ['18.20.4', '18.x', true],
  ['18.20.4', '~18.21', false], ['18.20.4', '~18.20', true], ['18.20.4', '*', true], ['18.20.4', '>18', false],
  ['19.0.0', '>18', true], ['18.20.4', '<=18', true], ['18.20.4', '18.20.4', true], ['18.20.5', '18.20.4', false],
  ['0.2.9', '^0.2.3', true], ['0.3.0', '^0.2.3', false], ['0.0.4', '^0.0.3', false], ['18.20.4', '>= 16 < 20', true]]) {
  ok(satisfies(v, r) === want, `range reader: ${v} ${want ? 'meets' : 'does not meet'} "${r}"`);
}

const lock = JSON.parse(fs.readFileSync(path.join(here, 'package-lock.json'), 'utf8'));
const pkg = JSON.parse(fs.readFileSync(path.join(here, 'package.json'), 'utf8'));
const packages = Object.entries(lock.packages || {});
ok(packages.some(([name]) => name === 'node_modules/playwright-core'), 'the lock file pins playwright-core');
for (const [name, meta] of packages) {
  const range = meta.engines?.node;
  if (!range) continue;
  let good, why;
  try { good = satisfies(DEBIAN12_NODE, range); } catch (e) { good = false; why = e.message; }
  ok(good, `${name || 'the project'}${meta.version ? '@' + meta.version : ''} runs on Debian 12's node ${DEBIAN12_NODE} (engines.node "${range}")`,
    why ?? `pin a version whose engines.node admits ${DEBIAN12_NODE}: \`npm view ${name.replace(/^.*node_modules\//, '')} engines\``);
}
const wanted = pkg.dependencies?.['playwright-core'];
const locked = lock.packages?.['node_modules/playwright-core']?.version;
ok(wanted === locked, `package.json pins playwright-core exactly to the locked version (${wanted} = ${locked})`);

function text(file) { try { return fs.readFileSync(file, 'utf8'); } catch { return ''; } }
const npmrc = text(path.join(here, '.npmrc'));
ok(/^\s*engine-strict\s*=\s*true\s*$/m.test(npmrc), '.npmrc sets engine-strict=true, so npm ci refuses a node a package does not admit');

const floor = /^>=\s*(\d+)$/.exec(pkg.engines?.node || '');
const deps = text(path.join(repo, 'scripts', 'deps.sh'));
const depsMin = /^\s*node_min=(\d+)\s*$/m.exec(deps);
ok(floor && depsMin && floor[1] === depsMin[1],
  `scripts/deps.sh checks the floor of package.json's engines.node (${pkg.engines?.node} against node_min=${depsMin?.[1]})`);
ok(floor && satisfies(DEBIAN12_NODE, pkg.engines.node), `package.json's engines.node admits Debian 12's node ${DEBIAN12_NODE}`);

console.log(`1..${passed + failed}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
