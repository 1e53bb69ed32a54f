/**
 * The transfers panel: every upload of this window with a progress bar, its state and a
 * Cancel button. It stays on screen across views; completions and failures are announced.
 */

import { announce, button, errorText, formatBytes, h, replace } from './dom.js';
import { uploads } from './upload.js';

const STATE_TEXT = {
  queued: 'Waiting',
  uploading: 'Uploading',
  completing: 'Completing',
  done: 'Uploaded',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** Mounts the panel into `root` (the <aside id="transfers">). */
export function mountTransfers(root) {
  const rows = new Map(); // Upload -> {el, progress, status}
  const list = h('ul', { class: 'transfer-list' });
  const clear = button('Clear finished', () => uploads.clearFinished(), { class: 'small secondary' });
  replace(root, h('div', { class: 'transfers-head' }, h('h2', { id: 'transfers-title' }, 'Uploads'), clear), list);
  root.setAttribute('aria-labelledby', 'transfers-title');

  const render = (up) => {
    let row = rows.get(up);
    if (!row) {
      const progress = h('progress', { max: String(up.size || 1), value: '0' });
      const status = h('span', { class: 'transfer-status' });
      const cancel = button('Cancel', () => up.cancel(), { class: 'small secondary' });
      cancel.setAttribute('aria-label', `Cancel upload of ${up.key}`);
      const label = h('span', { class: 'transfer-name' }, `${up.bucket}/${up.key}`);
      const el = h('li', { class: 'transfer', dataset: { key: up.key } }, label, progress, status, cancel);
      progress.setAttribute('aria-label', `Upload of ${up.key}`);
      row = { el, progress, status, cancel, announced: false };
      rows.set(up, row);
      list.prepend(el);
    }
    row.progress.value = String(up.state === 'done' ? up.size || 1 : up.loaded);
    const parts = up.partsTotal > 1 ? `, part ${up.partsDone}/${up.partsTotal}` : '';
    let line = `${STATE_TEXT[up.state]}: ${formatBytes(up.loaded)} of ${formatBytes(up.size)}${parts}`;
    if (up.state === 'failed') line = `Failed: ${errorText(up.error)}`;
    row.status.textContent = line;
    row.el.dataset.state = up.state;
    row.cancel.hidden = !up.active;
    if (!up.active && !row.announced) {
      row.announced = true;
      announce(`${STATE_TEXT[up.state]}: ${up.key}${up.state === 'failed' ? `, ${errorText(up.error)}` : ''}`);
    }
  };

  const sync = () => {
    for (const [up, row] of rows) {
      if (!uploads.list.includes(up)) {
        row.el.remove();
        rows.delete(up);
      }
    }
    root.hidden = uploads.list.length === 0;
  };

  uploads.addEventListener('added', (ev) => {
    render(ev.detail);
    sync();
    announce(`Uploading ${ev.detail.key}`);
  });
  uploads.addEventListener('change', (ev) => {
    if (ev.detail) render(ev.detail);
    sync();
  });
  sync();
}
