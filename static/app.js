// Portico demo page: calls /api/foo, shows who answered and how fast, and
// polls the public pool status. Plain ES module, no framework, no CDN.

const MIN = 0;
const MAX = 100000;
const HISTORY = 40;
const STATUS_URL = '/_portico/status';

const $ = (id) => document.getElementById(id);
const form = $('call-form');
const input = $('val');
const errorBox = $('val-error');
const summary = $('summary');
const results = $('results');
const runButton = $('run');
const burstButton = $('burst');
const burstSize = $('burst-size');
const history = [];

/** The val the user typed, or an error message that says what is valid. */
function readVal() {
  const text = input.value.trim();
  if (!/^\d+$/.test(text)) return { error: `Enter a whole number from ${MIN} to ${MAX}.` };
  const val = Number(text);
  if (val < MIN || val > MAX) return { error: `${val} is out of range: enter a whole number from ${MIN} to ${MAX}.` };
  return { val };
}

function showInputError(message) {
  errorBox.textContent = message ?? '';
  errorBox.hidden = !message;
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
}

/** One call; resolves to a row for the table, whatever happened. */
async function call(val) {
  const started = performance.now();
  try {
    const res = await fetch(`/api/foo?val=${encodeURIComponent(val)}`, { headers: { accept: 'application/json' } });
    const ms = performance.now() - started;
    const body = await res.json().catch(() => ({}));
    return { val, status: res.status, ms, pid: body.pid, result: body.result, detail: body.detail, retryAfter: res.headers.get('retry-after'), cache: res.headers.get('x-cache-status') };
  } catch (err) {
    return { val, status: 0, ms: performance.now() - started, detail: `network error: ${err.message}` };
  }
}

function explain(row) {
  if (row.status === 200) return null;
  if (row.status === 400) return `Invalid input: ${row.detail ?? ''} Valid values are whole numbers from ${MIN} to ${MAX}.`;
  if (row.status === 503) return `The pool is busy right now; retry in ${row.retryAfter ?? 1} s.`;
  if (row.status === 0) return `Portico could not be reached (${row.detail}).`;
  return `The call failed with ${row.status}: ${row.detail ?? 'no detail'}.`;
}

function addRow(row) {
  const tr = document.createElement('tr');
  const cells = [
    row.val,
    row.status || 'error',
    `${row.ms.toFixed(0)} ms`,
    row.pid ?? '—',
    row.cache ?? '—',
    row.status === 200 ? Number(row.result).toExponential(4) : (explain(row) ?? ''),
  ];
  cells.forEach((text, i) => {
    const td = document.createElement('td');
    td.textContent = String(text);
    if (i === 1) td.className = row.status === 200 ? 'ok' : 'bad';
    tr.append(td);
  });
  results.prepend(tr);
  while (results.rows.length > 50) results.deleteRow(-1);
  history.push(row);
  if (history.length > HISTORY) history.shift();
  drawChart();
}

/** Bars of the last requests' latency, one colour per backend pid. */
function drawChart() {
  const svg = $('chart');
  const width = 600;
  const height = 160;
  const max = Math.max(...history.map((r) => r.ms), 1);
  const pids = [...new Set(history.map((r) => r.pid).filter(Boolean))];
  const colours = ['#0b5fa5', '#b45309', '#047857', '#7c3aed', '#be123c', '#0e7490'];
  const barWidth = width / HISTORY;
  svg.replaceChildren(...history.map((row, i) => {
    const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    const h = Math.max(2, (row.ms / max) * (height - 10));
    bar.setAttribute('x', String(i * barWidth + 1));
    bar.setAttribute('y', String(height - h));
    bar.setAttribute('width', String(barWidth - 2));
    bar.setAttribute('height', String(h));
    bar.setAttribute('fill', row.status === 200 ? colours[pids.indexOf(row.pid) % colours.length] : '#9b1c1c');
    const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = `val ${row.val}: ${row.ms.toFixed(0)} ms, ${row.status === 200 ? `pid ${row.pid}` : `status ${row.status}`}`;
    bar.append(title);
    return bar;
  }));
  const ok = history.filter((r) => r.status === 200).map((r) => r.ms).sort((a, b) => a - b);
  const median = ok.length ? ok[Math.floor(ok.length / 2)].toFixed(0) : '—';
  $('chart-caption').textContent = `${history.length} requests; slowest ${max.toFixed(0)} ms, median of the successful ${median} ms; ${pids.length} backend(s) answered (one colour each, red for errors).`;
}

async function run(count) {
  const input = readVal();
  showInputError(input.error);
  if (input.error) {
    summary.textContent = '';
    return;
  }
  runButton.disabled = burstButton.disabled = true;
  summary.className = 'summary';
  summary.textContent = count === 1 ? 'Running…' : `Running ${count} at once…`;
  const started = performance.now();
  const rows = await Promise.all(Array.from({ length: count }, () => call(input.val)));
  const total = performance.now() - started;
  rows.forEach(addRow);
  const ok = rows.filter((r) => r.status === 200);
  const pids = new Set(ok.map((r) => r.pid));
  const problem = rows.map(explain).find(Boolean);
  summary.className = problem ? (rows.some((r) => r.status === 503) ? 'summary warn' : 'summary bad') : 'summary';
  summary.textContent = `${ok.length} of ${count} succeeded in ${total.toFixed(0)} ms, answered by ${pids.size} backend${pids.size === 1 ? '' : 's'}${pids.size ? ` (pid ${[...pids].join(', ')})` : ''}.${problem ? ` ${problem}` : ''}`;
  runButton.disabled = burstButton.disabled = false;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void run(1);
});
burstButton.addEventListener('click', () => {
  const n = Math.min(64, Math.max(1, Number(burstSize.value) || 8));
  burstSize.value = String(n);
  void run(n);
});
input.addEventListener('input', () => { if (errorBox.textContent) showInputError(readVal().error); });

async function refreshPool() {
  const pool = $('pool');
  try {
    const res = await fetch(STATUS_URL, { cache: 'no-store' });
    if (res.status === 404) {
      pool.innerHTML = '<p class="hint">The public status is turned off in this Portico\'s config.</p>';
      return;
    }
    const status = await res.json();
    pool.replaceChildren(...status.upstreams.map(renderUpstream));
  } catch {
    pool.innerHTML = '<p class="error">Cannot reach Portico for the pool status.</p>';
  }
}

function renderUpstream(upstream) {
  const section = document.createElement('div');
  const heading = document.createElement('h3');
  heading.textContent = `${upstream.name} (${upstream.policy})`;
  const facts = document.createElement('p');
  facts.textContent = `Queue ${upstream.queue.depth} / ${upstream.queue.size} · shed ${upstream.shed}`;
  const list = document.createElement('ul');
  list.className = 'servers';
  for (const server of upstream.servers) {
    const li = document.createElement('li');
    li.className = `server ${server.up ? 'up' : 'down'}`;
    // cap null: an uncapped server (not a Portico backend, no max_inflight): the meter shows nothing to fill.
    const capped = typeof server.cap === 'number';
    li.innerHTML = `<div>Server ${server.id}: <span class="state">${server.up ? 'up' : 'down'}</span></div><div>${server.inflight}${capped ? ` / ${server.cap}` : ' (uncapped)'} in flight</div>`;
    const meter = document.createElement('div');
    meter.className = 'meter';
    meter.setAttribute('role', 'meter');
    meter.setAttribute('aria-label', `Server ${server.id} in flight`);
    meter.setAttribute('aria-valuemin', '0');
    meter.setAttribute('aria-valuemax', String(capped ? server.cap : Math.max(1, server.inflight)));
    meter.setAttribute('aria-valuenow', String(server.inflight));
    const fill = document.createElement('span');
    fill.style.width = capped ? `${Math.min(100, (server.inflight / Math.max(1, server.cap)) * 100)}%` : '0%';
    meter.append(fill);
    li.append(meter);
    list.append(li);
  }
  section.append(heading, facts, list);
  return section;
}

void refreshPool();
setInterval(refreshPool, 1000);
