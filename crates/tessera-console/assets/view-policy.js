/**
 * A bucket's policy editor: GetBucketPolicy into a text area, the JSON checked in the page
 * (with the position of a syntax error) before PutBucketPolicy, DeleteBucketPolicy; the
 * server's own verdict (MalformedPolicy and its message) shown as it comes.
 */

import { s3 } from './api.js';
import { button, confirmDialog, errorBox, h, messageSlot, replace, uid } from './dom.js';
import { bucketTabs } from './routes.js';

/** A policy skeleton for an empty editor: read access for one account (edit before saving). */
function example(bucket) {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ReadForAnotherAccount',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:root' },
          Action: ['s3:GetObject', 's3:ListBucket'],
          Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
        },
      ],
    },
    null,
    2,
  );
}

/**
 * The first JSON syntax error of `src` as {offset, message}, or null when it is valid JSON
 * (RFC 8259). A small recursive-descent scan: browsers' JSON.parse messages do not all say
 * where the error is.
 */
export function jsonSyntaxError(src) {
  let i = 0;
  const fail = (message) => {
    throw { offset: i, message };
  };
  const ws = () => {
    while (i < src.length && ' \t\n\r'.includes(src[i])) i += 1;
  };
  const literal = (word) => {
    if (src.startsWith(word, i)) i += word.length;
    else fail('expected a value');
  };
  const string = () => {
    i += 1; // the opening quote
    while (i < src.length) {
      const c = src[i];
      if (c === '"') {
        i += 1;
        return;
      }
      if (c === '\\') {
        const e = src[i + 1];
        if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(i + 2, i + 6))) i += 6;
        else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('invalid escape in a string');
      } else if (c < ' ') {
        fail('control character in a string (a line break inside quotes?)');
      } else i += 1;
    }
    fail('unterminated string');
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(src.slice(i));
    if (!m) fail('expected a value');
    i += m[0].length;
  };
  const value = (depth) => {
    if (depth > 64) fail('nested too deeply');
    ws();
    const c = src[i];
    if (c === '{') {
      i += 1;
      ws();
      if (src[i] === '}') {
        i += 1;
        return;
      }
      for (;;) {
        ws();
        if (src[i] !== '"') fail('expected a "quoted" member name');
        string();
        ws();
        if (src[i] !== ':') fail('expected ":" after the member name');
        i += 1;
        value(depth + 1);
        ws();
        if (src[i] === ',') {
          i += 1;
          continue;
        }
        if (src[i] === '}') {
          i += 1;
          return;
        }
        fail('expected "," or "}"');
      }
    } else if (c === '[') {
      i += 1;
      ws();
      if (src[i] === ']') {
        i += 1;
        return;
      }
      for (;;) {
        value(depth + 1);
        ws();
        if (src[i] === ',') {
          i += 1;
          continue;
        }
        if (src[i] === ']') {
          i += 1;
          return;
        }
        fail('expected "," or "]"');
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === undefined) fail('unexpected end of the text');
    else number();
  };
  try {
    value(0);
    ws();
    if (i < src.length) fail('unexpected text after the end of the document');
    return null;
  } catch (e) {
    if (e && typeof e.offset === 'number') return e;
    throw e;
  }
}

/**
 * Checks `source` as a policy document's JSON; returns null when it is a JSON object with a
 * Statement, else a sentence (with line and column for a syntax error).
 */
export function checkPolicyJson(source) {
  const err = jsonSyntaxError(source);
  if (err) {
    const before = source.slice(0, err.offset);
    const line = before.split('\n').length;
    const col = err.offset - before.lastIndexOf('\n');
    return `Invalid JSON at line ${line}, column ${col}: ${err.message}.`;
  }
  const v = JSON.parse(source);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'A policy is a JSON object ({ ... }).';
  if (!('Statement' in v)) return 'The policy has no "Statement".';
  return null;
}

/** Renders the editor of `path[1]`'s policy. */
export async function renderPolicy(view, { path }) {
  const bucket = path[1];
  document.title = `Policy of ${bucket} – Tessera console`;
  const msg = messageSlot();
  const editorId = uid('policy');
  const hintId = uid('hint');
  const state = h('p', { class: 'summary', role: 'status' }, 'Loading the policy…');
  const editor = h('textarea', {
    id: editorId,
    class: 'code',
    rows: '18',
    spellcheck: 'false',
    autocapitalize: 'off',
    'aria-describedby': hintId,
  });
  const check = h('p', { class: 'check-result', 'aria-live': 'polite' });
  editor.addEventListener('input', () => {
    editor.removeAttribute('aria-invalid');
    check.textContent = '';
  });

  const validate = () => {
    const problem = checkPolicyJson(editor.value);
    if (problem) {
      editor.setAttribute('aria-invalid', 'true');
      replace(check, h('span', { class: 'error-text' }, problem));
      return false;
    }
    editor.removeAttribute('aria-invalid');
    replace(check, h('span', { class: 'ok-text' }, 'Valid JSON.'));
    return true;
  };

  const save = button('Save policy', async () => {
    msg.clear();
    if (!validate()) {
      editor.focus();
      return;
    }
    try {
      await s3('PUT', bucket, '', { query: { policy: null }, headers: { 'Content-Type': 'application/json' }, body: editor.value });
      msg.ok('Policy saved.');
      await load();
    } catch (err) {
      msg.show(err);
    }
  });
  const remove = button('Delete policy', async () => {
    if (!(await confirmDialog(`Delete the policy of ${bucket}?`))) return;
    try {
      await s3('DELETE', bucket, '', { query: { policy: null } });
      msg.ok('Policy deleted.');
      await load();
    } catch (err) {
      msg.show(err);
    }
  }, { class: 'danger' });
  const checkBtn = button('Check JSON', () => validate(), { class: 'secondary' });
  const format = button('Format', () => {
    if (validate()) editor.value = JSON.stringify(JSON.parse(editor.value), null, 2);
  }, { class: 'secondary' });

  replace(
    view,
    h('h1', {}, bucket),
    bucketTabs(bucket, 'policy'),
    h(
      'section',
      { class: 'card', 'aria-labelledby': `${editorId}-title` },
      h('h2', { id: `${editorId}-title` }, 'Bucket policy'),
      state,
      h('label', { for: editorId }, 'Policy document (JSON)'),
      editor,
      h('p', { class: 'hint', id: hintId }, 'Checked as JSON here first; the server then checks it as a policy.'),
      check,
      h('div', { class: 'actions' }, save, checkBtn, format, remove),
    ),
    msg.el,
  );

  async function load() {
    try {
      const resp = await s3('GET', bucket, '', { query: { policy: null } });
      const body = await resp.text();
      try {
        editor.value = JSON.stringify(JSON.parse(body), null, 2);
      } catch {
        editor.value = body;
      }
      state.textContent = 'This bucket has a policy.';
      remove.hidden = false;
    } catch (err) {
      if (err.code === 'NoSuchBucketPolicy') {
        editor.value = example(bucket);
        state.textContent = 'This bucket has no policy. An example to start from is in the editor; nothing is saved until you press “Save policy”.';
        remove.hidden = true;
      } else {
        state.textContent = '';
        replace(msg.el, errorBox(err));
      }
    }
  }
  await load();
}
