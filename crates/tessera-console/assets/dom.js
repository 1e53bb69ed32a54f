/**
 * DOM and formatting helpers shared by the views: an element builder, tables that turn into
 * labelled cards on narrow screens, messages, a confirmation dialog, sizes and dates.
 * No inline handlers or styles anywhere: the console runs under `default-src 'self'`.
 */

/**
 * Builds an element. `attrs`: `class`, `text`, `on<Event>` (listeners), `dataset`, booleans
 * (set when true, left out when false), anything else as an attribute. Children: nodes,
 * strings, or arrays of them; null/undefined/false are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'class') el.className = value;
    else if (name === 'text') el.textContent = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Appends nodes, strings or (nested) arrays of them. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false || child === '') continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Empties an element and fills it with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let idCounter = 0;
/** A page-unique element id (labels, aria-describedby). */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * A table. `columns`: [{label, cell(row) -> node|string, class?}]; `rows`: the data. Each
 * cell carries its column label so narrow screens can show rows as labelled cards (app.css).
 */
export function table(columns, rows, { caption, empty = 'Nothing here.', label } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const head = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label))));
  const body = h(
    'tbody',
    {},
    rows.map((row) =>
      h('tr', {}, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, cellContent(c, row)))),
    ),
  );
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'data', 'aria-label': label }, caption ? h('caption', {}, caption) : null, head, body),
  );
}

/** A cell's content; several nodes in one span, so a narrow screen's label grid keeps them together. */
function cellContent(column, row) {
  const content = column.cell(row);
  if (!Array.isArray(content) || (column.class || '').includes('actions-cell')) return content;
  return h('span', {}, content);
}

/** A definition list from [term, value] pairs; values may be nodes. Empty values are skipped. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))),
  );
}

/** An error box (role=alert, so screen readers say it at once). */
export function errorBox(err) {
  return h('div', { class: 'msg error', role: 'alert' }, errorText(err));
}

/** "Code: message" of an ApiError, or the text of any other error. */
export function errorText(err) {
  if (err && err.code) return `${err.code}: ${err.detail || ''}`.trim();
  return String(err && err.message ? err.message : err);
}

/** A slot for a view's messages: `show(err)` / `ok(text)` / `clear()`. */
export function messageSlot() {
  const el = h('div', { class: 'msg-slot', 'aria-live': 'polite' });
  return {
    el,
    show(err) {
      replace(el, errorBox(err));
    },
    ok(text) {
      replace(el, h('div', { class: 'msg ok', role: 'status' }, text));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

/** Says `text` through the page's polite live region (progress, completions). */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node after a tick, so the same sentence twice is still read out.
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/**
 * Asks for confirmation in the page's modal <dialog>; resolves true on "confirm". Esc and
 * "Cancel" resolve false; focus goes back where it was.
 */
export function confirmDialog(message, confirmLabel = 'Delete') {
  const dialog = document.getElementById('confirm');
  const text = dialog.querySelector('.confirm-text');
  const ok = dialog.querySelector('.confirm-ok');
  const back = document.activeElement;
  text.textContent = message;
  ok.textContent = confirmLabel;
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener('close', done);
      resolve(dialog.returnValue === 'confirm');
      if (back && back.focus) back.focus();
    };
    dialog.returnValue = '';
    dialog.addEventListener('close', done);
    dialog.showModal();
  });
}

/** A button that runs `action` once at a time (disabled while it runs). */
export function button(label, action, attrs = {}) {
  const el = h('button', { type: 'button', ...attrs }, label);
  el.addEventListener('click', async (ev) => {
    if (el.disabled) return;
    el.disabled = true;
    el.setAttribute('aria-busy', 'true');
    try {
      await action(ev);
    } finally {
      el.disabled = false;
      el.removeAttribute('aria-busy');
    }
  });
  return el;
}

/** A labelled input; returns {wrap, input}. */
export function field(label, attrs = {}, hint) {
  const id = uid('f');
  const hintId = hint ? uid('hint') : null;
  const input = h(attrs.tag || 'input', { id, 'aria-describedby': hintId, ...attrs, tag: null });
  const wrap = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
  );
  return { wrap, input };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
/** 1536 -> "1.5 KiB". */
export function formatBytes(n) {
  const num = Number(n);
  if (!Number.isFinite(num)) return '';
  let v = num;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[u]}`;
}

/** An ISO date as the reader's local date and time, in a <time> element. */
export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return h('time', { datetime: d.toISOString() }, d.toLocaleString());
}

/** Time since an ISO date, e.g. "3 min", "2 h 5 min", "4 d". */
export function formatAge(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min`;
  return `${Math.floor(hrs / 24)} d`;
}

/** An S3 ETag without its quotes. */
export function unquote(etag) {
  return (etag || '').replace(/^"|"$/g, '');
}
