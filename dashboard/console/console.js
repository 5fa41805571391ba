/* global document, fetch, Node, EventSource, FormData, URLSearchParams, setInterval */
// The operator's console page: plain DOM, no framework. Every change sends the XSRF-TOKEN
// cookie's value in X-XSRF-TOKEN, as the dashboard's checks ask (dashboard/app.ts).
const base = document.body.dataset.base || '';
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  return e;
}

function token() {
  return document.cookie.split('; ').find((c) => c.startsWith('XSRF-TOKEN='))?.slice('XSRF-TOKEN='.length) ?? '';
}

async function api(path, init = {}) {
  const res = await fetch(`${base}/api/console/${path}`, {
    ...init,
    headers: { 'content-type': 'application/json', 'x-xsrf-token': decodeURIComponent(token()), ...(init.headers || {}) },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

// --- who ---
api('me').then((m) => {
  $('me').textContent = `${m.name} (${m.role})`;
  if (m.role !== 'admin') { for (const e of document.querySelectorAll('.admin-only')) e.classList.add('hidden'); }
}, () => {});

// --- pipeline ---
const BOXES = {
  clients: [10, 130, 'clients'],
  gateway: [185, 130, 'gateway'],
  producer: [360, 130, 'producer'],
  kafka: [535, 100, 'Kafka'],
  'read-model': [725, 60, 'read model group'],
  analytics: [725, 210, 'analytics group'],
  postgres: [915, 20, 'PostgreSQL'],
  redis: [915, 115, 'Redis'],
  clickhouse: [915, 225, 'ClickHouse'],
  'queue-redis': [535, 260, 'queue Redis'],
};
const W = 150;
const H = (id) => (id === 'kafka' ? 110 : 56);
const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function clip(s, n) {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
function drawPipeline(state) {
  $('pipeline-at').textContent = `as of ${new Date(state.at).toLocaleTimeString()}`;
  const boxes = $('boxes');
  boxes.replaceChildren();
  const partitions = state.partitions || {};
  const lagging = new Set();
  for (const rows of Object.values(state.lag || {})) for (const p of rows) if (p.lag > 0) lagging.add(`${p.topic}:${p.partition}`);
  for (const b of state.boxes) {
    const [x, y, name] = BOXES[b.id] || [0, 0, b.id];
    const g = svg('g', { class: `box ${b.health}`, 'data-box': b.id, 'data-health': b.health });
    g.append(svg('rect', { x, y, width: W, height: H(b.id) }));
    g.append(svg('text', { x: x + 8, y: y + 17, class: 'name' }, `${name} · ${b.health}`));
    g.append(svg('text', { x: x + 8, y: y + 33, class: 'reason' }, clip(b.reason, 30)));
    if (b.reason.length > 30) g.append(svg('text', { x: x + 8, y: y + 46, class: 'reason' }, clip(b.reason.slice(29), 30)));
    g.append(svg('title', {}, `${name}: ${b.health} — ${b.reason}`));
    if (b.id === 'kafka') {
      let row = 0;
      for (const [topic, n] of Object.entries(partitions)) {
        const ty = y + 60 + row * 22;
        g.append(svg('text', { x: x + 8, y: ty + 10, class: 'reason' }, clip(topic.split('.').pop(), 10)));
        for (let i = 0; i < n && i < 12; i++) {
          g.append(svg('rect', { x: x + 62 + i * 7, y: ty, width: 5, height: 12, class: `partition${lagging.has(`${topic}:${i}`) ? ' lagging' : ''}` }));
        }
        row++;
      }
    }
    boxes.append(g);
  }
  const arrows = $('arrows');
  arrows.replaceChildren();
  for (const a of state.arrows) {
    const [fx, fy] = BOXES[a.from] || [0, 0];
    const [tx, ty] = BOXES[a.to] || [0, 0];
    let d;
    let lx;
    let ly;
    if (a.from === 'redis' && a.to === 'gateway') {
      // The read model's way back to the gateway, over the top.
      d = `M${fx},${fy + 15} C ${fx - 120},${-40} ${tx + W / 2},${-40} ${tx + W / 2},${ty}`;
      lx = (fx + tx) / 2;
      ly = -22;
    } else {
      const x1 = fx + W;
      const y1 = fy + H(a.from) / 2;
      const x2 = tx;
      const y2 = ty + H(a.to) / 2;
      d = `M${x1},${y1} L${x2 - 2},${y2}`;
      lx = (x1 + x2) / 2 - 20;
      ly = (y1 + y2) / 2 - 6;
    }
    arrows.append(svg('path', { d, class: `arrow${a.errors > 0 ? ' erring' : ''}`, 'data-arrow': `${a.from}-${a.to}` }));
    arrows.append(
      svg(
        'text',
        { x: lx, y: ly, class: 'rate' },
        `${a.from === 'redis' && a.to === 'gateway' ? 'read model: ' : ''}${a.rate}/s${a.errors > 0 ? ` · ${a.errors} err/s` : ''}`,
      ),
    );
  }
  const lag = $('lag');
  lag.replaceChildren();
  for (const [group, rows] of Object.entries(state.lag || {})) {
    for (const p of rows) {
      lag.append(
        el(
          'tr',
          {},
          el('td', {}, group),
          el('td', {}, p.topic),
          el('td', {}, p.partition),
          el('td', {}, p.committed),
          el('td', {}, p.high),
          el('td', {}, p.lag),
        ),
      );
    }
  }
  const p99 = $('p99');
  p99.replaceChildren();
  for (const [sink, ms] of Object.entries(state.sinkP99 || {})) {
    p99.append(el('tr', {}, el('td', {}, sink), el('td', {}, ms === null ? '— (no writes)' : `${ms} ms`)));
  }
}
function connect() {
  const source = new EventSource(`${base}/api/console/pipeline/stream`);
  source.addEventListener('pipeline', (e) => drawPipeline(JSON.parse(e.data)));
  source.onerror = () => ($('pipeline-at').textContent = 'reconnecting…');
}
connect();

// --- dead letters ---
let cursor;
let filter = {};
const selected = new Set();

function filterFromForm() {
  const f = {};
  for (const [k, v] of new FormData($('filters'))) {
    if (!v) continue;
    f[k] = k === 'from' || k === 'to' ? new Date(v).toISOString() : v;
  }
  return f;
}

function details(l) {
  return el(
    'tr',
    { class: 'details' },
    el(
      'td',
      { colspan: 8 },
      el(
        'div',
        {},
        el('b', {}, 'Kafka: '),
        `${l.topic} partition ${l.partition} offset ${l.offset}, key ${l.key ?? '(none)'}, ${l.value_bytes} bytes`,
        l.schema_id ? `, schema ${l.schema_id}` : '',
      ),
      l.trace_id ? el('div', {}, el('b', {}, 'trace: '), l.trace_id) : null,
      el('div', {}, el('b', {}, 'headers: '), JSON.stringify(l.headers)),
      l.record
        ? el('div', {}, el('b', {}, 'record (decoded):'), el('pre', { class: 'record' }, JSON.stringify(l.record, null, 2)))
        : el('div', { class: 'bad' }, `does not decode: ${l.decode_error}`),
      el('div', {}, el('b', {}, 'error: '), l.error),
      l.redrive_error ? el('div', { class: 'bad' }, el('b', {}, 'last redrive: '), l.redrive_error) : null,
      el('div', {}, el('b', {}, 'attempts:'), el('ol', {}, (l.attempts || []).map((a) => el('li', {}, `${a.at}: ${a.error}`)))),
      l.stack ? el('pre', {}, l.stack) : null,
    ),
  );
}

function letterRow(l) {
  const box = el('input', { type: 'checkbox', 'aria-label': `select ${l.id}`, onclick: (e) => e.stopPropagation() });
  box.checked = selected.has(l.id);
  box.addEventListener('change', () => (box.checked ? selected.add(l.id) : selected.delete(l.id)));
  const row = el(
    'tr',
    { class: 'letter', 'data-id': l.id },
    el('td', {}, box),
    el('td', {}, l.id),
    el('td', {}, `${l.partition}:${l.offset}`),
    el('td', {}, l.key ?? ''),
    el('td', {}, l.tenant),
    el('td', {}, l.step),
    el('td', { class: 'err', title: l.error }, l.error),
    el('td', {}, new Date(l.dead_at).toLocaleString()),
  );
  row.addEventListener('click', () => {
    const next = row.nextElementSibling;
    if (next && next.classList.contains('details')) next.remove();
    else row.after(details(l));
  });
  return row;
}

async function loadLetters(more = false) {
  if (!more) {
    cursor = undefined;
    $('letters').replaceChildren();
  }
  const q = new URLSearchParams({ ...filter, limit: '50', ...(cursor ? { cursor } : {}) });
  try {
    const page = await api(`dead-letters?${q}`);
    for (const l of page.letters) $('letters').append(letterRow(l));
    cursor = page.next;
    $('more').classList.toggle('hidden', !cursor);
    $('letters-note').textContent = `${$('letters').querySelectorAll('tr.letter').length} shown${cursor ? ', more below' : ''}`;
  } catch (err) {
    $('letters-note').textContent = `could not list: ${err.message}`;
  }
}
$('more').addEventListener('click', () => loadLetters(true));
$('filters').addEventListener('submit', (e) => {
  e.preventDefault();
  filter = filterFromForm();
  selected.clear();
  loadLetters();
});
$('all').addEventListener('change', () => {
  for (const box of $('letters').querySelectorAll('tr.letter input[type=checkbox]')) {
    box.checked = $('all').checked;
    const id = box.closest('tr').dataset.id;
    if (box.checked) selected.add(id);
    else selected.delete(id);
  }
});

for (const button of document.querySelectorAll('[data-act]')) {
  button.addEventListener('click', async () => {
    const action = button.dataset.act;
    const selection = button.dataset.by === 'ids' ? { ids: [...selected] } : { filter };
    const box = $('confirm');
    try {
      const dry = await api('dead-letters/dry-run', { method: 'POST', body: JSON.stringify({ action, ...selection }) });
      box.replaceChildren(
        el(
          'span',
          { id: 'confirm-text' },
          `${action} ${dry.count} letter(s) ${button.dataset.by === 'ids' ? 'selected' : `matching ${JSON.stringify(filter)}`}? `,
        ),
        el('button', {
          id: 'confirm-yes',
          onclick: async () => {
            box.classList.add('hidden');
            try {
              const r = await api(`dead-letters/${action}`, { method: 'POST', body: JSON.stringify({ ...selection, token: dry.token, count: dry.count }) });
              $('action-result').textContent = `${action}: ${r.done} done, ${r.skipped} skipped`;
            } catch (err) {
              $('action-result').textContent = `${action} refused: ${err.message}`;
            }
            selected.clear();
            loadLetters();
            loadAudit();
          },
        }, `Yes, ${action} ${dry.count}`),
        el('button', { onclick: () => box.classList.add('hidden') }, 'Cancel'),
      );
      box.classList.remove('hidden');
    } catch (err) {
      $('action-result').textContent = `${action}: ${err.message}`;
    }
  });
}

// --- retries and audit ---
async function loadRetries() {
  try {
    const { retries } = await api('retries');
    $('retries').replaceChildren(
      ...retries.map((r) =>
        el(
          'tr',
          {},
          el('td', {}, r.group),
          el('td', {}, r.head ? `${r.head.key} (${r.head.topic} ${r.head.partition}:${r.head.offset})` : r.id),
          el('td', {}, r.state + (r.due ? `, due ${new Date(r.due).toLocaleTimeString()}` : '')),
          el('td', {}, r.attempts),
          el('td', { class: 'err' }, r.errors.at(-1)?.error ?? ''),
          el('td', {}, r.parked),
          el('td', {}, r.behind.map((b) => b.event_id ?? `${b.partition}:${b.offset}`).join(', ')),
        )
      ),
    );
    if (!retries.length) $('retries').replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'note' }, 'none')));
  } catch (err) {
    $('retries').replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'bad' }, err.message)));
  }
}
async function loadAudit() {
  try {
    const { entries } = await api('audit');
    $('audit').replaceChildren(
      ...entries.map((a) =>
        el(
          'tr',
          { class: 'audit' },
          el('td', {}, new Date(a.at).toLocaleString()),
          el('td', {}, a.who),
          el('td', {}, a.action),
          el('td', {}, a.filter ? `filter ${JSON.stringify(a.filter)}` : `ids ${a.ids.join(', ')}`),
          el('td', {}, a.confirmed),
          el('td', {}, a.done),
          el('td', {}, a.skipped),
        )
      ),
    );
  } catch (err) {
    $('audit').replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'bad' }, err.message)));
  }
}

// --- where is my event ---
async function search(q) {
  $('timeline-section').classList.remove('hidden');
  $('timeline-query').textContent = q;
  $('verdict').textContent = 'looking…';
  try {
    const t = await api(`search?q=${encodeURIComponent(q)}`);
    $('verdict').replaceChildren(el('b', { id: 'verdict-text' }, t.verdict));
    $('timeline').replaceChildren(
      el(
        'ol',
        { class: 'timeline' },
        t.findings.map((f) =>
          el(
            'li',
            { 'data-where': f.where },
            el('b', {}, f.where),
            f.error ? el('span', { class: 'bad' }, ` could not ask: ${f.error}`) : ` ${f.rows.length ? `${f.rows.length} found` : 'nothing'}`,
            f.rows.length
              ? el(
                'pre',
                {},
                JSON.stringify(
                  f.rows.map((r) => (f.where === 'dead-letters' ? { id: r.id, error: r.error, record: r.record, dead_at: r.dead_at } : r)),
                  null,
                  2,
                ),
              )
              : null,
          )
        ),
      ),
    );
  } catch (err) {
    $('verdict').textContent = `could not search: ${err.message}`;
  }
}
$('search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = $('search').value.trim();
  if (q) search(q);
});

loadLetters();
loadRetries();
loadAudit();
setInterval(() => {
  loadRetries();
  loadAudit();
}, 5000);
