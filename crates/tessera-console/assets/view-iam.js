/**
 * The account's IAM users and their access keys: ListUsers, CreateUser, DeleteUser,
 * ListAccessKeys, CreateAccessKey (the secret shown once), UpdateAccessKey (Active/Inactive),
 * DeleteAccessKey. What the signed-in key may not do comes back as IAM's error.
 */

import { iam, kid, kids, text } from './api.js';
import { button, confirmDialog, errorBox, field, formatDate, h, messageSlot, replace, table, uid } from './dom.js';

const MAX_PAGES = 20;

/** Every user of the account (ListUsers, following markers). */
async function listUsers() {
  const users = [];
  let marker = '';
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const res = await iam('ListUsers', { MaxItems: 1000, Marker: marker });
    for (const m of kids(kid(res, 'Users'), 'member')) {
      users.push({ name: text(m, 'UserName'), id: text(m, 'UserId'), arn: text(m, 'Arn'), path: text(m, 'Path'), created: text(m, 'CreateDate') });
    }
    if (text(res, 'IsTruncated') !== 'true') break;
    marker = text(res, 'Marker');
  }
  return users;
}

/** The access keys of `userName`. */
async function listKeys(userName) {
  const res = await iam('ListAccessKeys', { UserName: userName, MaxItems: 1000 });
  return kids(kid(res, 'AccessKeyMetadata'), 'member').map((m) => ({
    id: text(m, 'AccessKeyId'),
    status: text(m, 'Status'),
    created: text(m, 'CreateDate'),
    user: text(m, 'UserName') || userName,
  }));
}

/** Renders the users page. */
export async function renderIam(view) {
  document.title = 'Users and keys – Tessera console';
  const msg = messageSlot();
  const secretSlot = h('div', { class: 'secret-slot' });
  const listSlot = h('div', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading users…'));

  const name = field('User name', { name: 'userName', required: true, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', maxlength: '64' },
    'Letters, digits and + = , . @ _ - (up to 64).');
  const pathField = field('Path (optional)', { name: 'path', autocomplete: 'off', spellcheck: 'false', placeholder: '/' });
  const createBtn = h('button', { type: 'submit' }, 'Create user');
  const form = h('form', { class: 'inline-form', 'aria-label': 'Create a user' }, name.wrap, pathField.wrap, h('div', { class: 'actions' }, createBtn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const userName = name.input.value.trim();
    if (!userName) return;
    createBtn.disabled = true;
    try {
      await iam('CreateUser', { UserName: userName, Path: pathField.input.value.trim() });
      name.input.value = '';
      pathField.input.value = '';
      msg.ok(`User ${userName} created.`);
      await load();
    } catch (err) {
      msg.show(err);
    } finally {
      createBtn.disabled = false;
    }
  });

  replace(
    view,
    h('h1', {}, 'Users and access keys'),
    h('section', { class: 'card', 'aria-label': 'New user' }, form),
    msg.el,
    secretSlot,
    listSlot,
  );

  function showSecret(key) {
    const titleId = uid('secret');
    const box = h(
      'section',
      { class: 'card secret', role: 'alert', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, `New access key of ${key.user}`),
      h('p', {}, 'The secret is shown only now: copy it to a safe place.'),
      h(
        'dl',
        { class: 'facts' },
        h('div', {}, h('dt', {}, 'Access key ID'), h('dd', {}, h('code', { class: 'new-key-id' }, key.id))),
        h('div', {}, h('dt', {}, 'Secret access key'), h('dd', {}, h('code', { class: 'new-secret' }, key.secret))),
      ),
      h('div', { class: 'actions' }, button('I have saved the secret', () => replace(secretSlot), { class: 'secondary' })),
    );
    replace(secretSlot, box);
  }

  async function load() {
    listSlot.setAttribute('aria-busy', 'true');
    try {
      const users = await listUsers();
      const cards = await Promise.all(users.map((u) => userCard(u)));
      replace(listSlot, users.length ? cards : h('p', { class: 'empty' }, 'This account has no IAM users yet.'));
    } catch (err) {
      replace(listSlot, errorBox(err));
    } finally {
      listSlot.removeAttribute('aria-busy');
    }
  }

  async function userCard(u) {
    let keysEl;
    try {
      const keys = await listKeys(u.name);
      keysEl = table(
        [
          { label: 'Access key ID', cell: (k) => h('code', {}, k.id) },
          { label: 'Status', cell: (k) => h('span', { class: `badge ${k.status.toLowerCase()}` }, k.status) },
          { label: 'Created', cell: (k) => formatDate(k.created) },
          {
            label: 'Actions',
            class: 'actions-cell',
            cell: (k) => {
              const next = k.status === 'Active' ? 'Inactive' : 'Active';
              const verb = k.status === 'Active' ? 'Deactivate' : 'Activate';
              return [
                button(verb, async () => {
                  try {
                    await iam('UpdateAccessKey', { UserName: u.name, AccessKeyId: k.id, Status: next });
                    msg.ok(`Key ${k.id} is now ${next}.`);
                    await load();
                  } catch (err) {
                    msg.show(err);
                  }
                }, { class: 'small secondary', 'aria-label': `${verb} key ${k.id}` }),
                button('Delete', async () => {
                  if (!(await confirmDialog(`Delete the access key ${k.id} of ${u.name}?`))) return;
                  try {
                    await iam('DeleteAccessKey', { UserName: u.name, AccessKeyId: k.id });
                    msg.ok(`Key ${k.id} deleted.`);
                    await load();
                  } catch (err) {
                    msg.show(err);
                  }
                }, { class: 'small danger', 'aria-label': `Delete key ${k.id}` }),
              ];
            },
          },
        ],
        keys,
        { label: `Access keys of ${u.name}`, empty: 'No access keys.' },
      );
    } catch (err) {
      keysEl = errorBox(err);
    }
    const titleId = uid('user');
    return h(
      'article',
      { class: 'card user', 'aria-labelledby': titleId, dataset: { user: u.name } },
      h(
        'div',
        { class: 'upload-head' },
        h('h2', { id: titleId }, u.name),
        h(
          'div',
          { class: 'actions' },
          button('Create access key', async () => {
            try {
              const res = await iam('CreateAccessKey', { UserName: u.name });
              const k = kid(res, 'AccessKey');
              showSecret({ id: text(k, 'AccessKeyId'), secret: text(k, 'SecretAccessKey'), user: u.name });
              await load();
            } catch (err) {
              msg.show(err);
            }
          }, { class: 'small', 'aria-label': `Create access key for ${u.name}` }),
          button('Delete user', async () => {
            if (!(await confirmDialog(`Delete the user ${u.name}? Delete its keys and policies first.`))) return;
            try {
              await iam('DeleteUser', { UserName: u.name });
              msg.ok(`User ${u.name} deleted.`);
              await load();
            } catch (err) {
              msg.show(err);
            }
          }, { class: 'small danger', 'aria-label': `Delete user ${u.name}` }),
        ),
      ),
      h('p', { class: 'muted small-text' }, h('code', {}, u.arn), ' · created ', formatDate(u.created)),
      h('h3', {}, 'Access keys'),
      keysEl,
    );
  }

  await load();
}
