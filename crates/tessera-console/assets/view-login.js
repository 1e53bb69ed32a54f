/** The login form: an access key id and its secret; errors shown as "Code: message". */

import { login } from './api.js';
import { errorBox, field, h, replace } from './dom.js';

/** Renders the form into `view`; calls `onDone()` once signed in. */
export function renderLogin(view, message, onDone) {
  const key = field('Access key ID', { name: 'accessKeyId', autocomplete: 'username', required: true, spellcheck: 'false', autocapitalize: 'off' });
  const secret = field('Secret access key', { name: 'secretAccessKey', type: 'password', autocomplete: 'current-password', required: true });
  const slot = h('div', { class: 'msg-slot', 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'login-form', 'aria-labelledby': 'login-title' }, key.wrap, secret.wrap, slot, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    replace(slot);
    try {
      await login(key.input.value.trim(), secret.input.value);
      secret.input.value = '';
      onDone();
    } catch (err) {
      replace(slot, errorBox(err));
      secret.input.focus();
      secret.input.select();
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
    }
  });
  replace(
    view,
    h(
      'section',
      { class: 'login card' },
      h('h1', { id: 'login-title' }, 'Sign in to Tessera'),
      h('p', { class: 'hint' }, 'Use an access key of your account: its root key or an IAM user’s key.'),
      message ? h('div', { class: 'msg info', role: 'status' }, message) : null,
      form,
    ),
  );
  window.requestAnimationFrame(() => key.input.focus());
}
