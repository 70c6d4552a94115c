/*
 * app.js — the logic of janc's built-in page (web/index.html).
 *
 * Talks only to janc's own API, by relative URL: GET v1/models (polled), the
 * start/stop/delete/import/download model methods, PATCH v1/models/{id} for
 * settings, and POST v1/chat/completions with stream:true, read as SSE from
 * the fetch body. Chats live in localStorage ("janc.chats"). On a 401 the
 * page asks for the API key once and keeps it ("janc.apiKey").
 * No framework, no build step; compiled into the binary by scripts/embed_web.py.
 */
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

/* ---------- API, with the key asked for on a 401 ---------- */

let keyAsk = null; // the pending key dialog, shared by concurrent requests
let keyDeclined = false; // the person closed the dialog: do not nag, offer a link instead

function askKey() {
  if (!keyAsk) {
    keyAsk = new Promise((resolve) => {
      const d = $('key-dialog');
      $('key-input').value = '';
      d.returnValue = '';
      d.onclose = () => {
        const k = d.returnValue === 'ok' ? $('key-input').value.trim() : '';
        if (k) localStorage.setItem('janc.apiKey', k);
        keyDeclined = !k;
        keyAsk = null;
        resolve(k);
      };
      d.showModal();
    });
  }
  return keyAsk;
}

async function api(path, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = Object.assign({}, opts.headers);
    const key = localStorage.getItem('janc.apiKey');
    if (key) headers.Authorization = 'Bearer ' + key;
    let body = opts.body;
    if (body !== undefined && typeof body !== 'string') {
      body = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
    const r = await fetch(path, Object.assign({}, opts, { headers, body }));
    if (r.status !== 401 || attempt > 0 || keyDeclined) return r;
    if (!(await askKey())) return r;
  }
}

/* The message of an OpenAI error object, or the status line. */
async function errorText(r) {
  let t = '';
  try { t = await r.text(); const j = JSON.parse(t); if (j.error) return j.error.message || String(j.error); } catch (e) { /* not JSON */ }
  return `${r.status} ${r.statusText}${t ? ': ' + t.slice(0, 200) : ''}`;
}

async function apiJSON(path, opts) {
  const r = await api(path, opts);
  if (!r.ok) throw new Error(await errorText(r));
  return r.status === 204 ? null : r.json();
}

const modelURL = (id) => 'v1/models/' + encodeURIComponent(id);

/* ---------- models ---------- */

let models = [];
let modelsKey = '';

function fmtBytes(n) {
  if (typeof n !== 'number' || !isFinite(n) || n <= 0) return '';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i && n < 10 ? n.toFixed(1) : Math.round(n)) + ' ' + u[i];
}

function fmtCount(n) {
  if (typeof n !== 'number' || !isFinite(n) || n <= 0) return '';
  const u = ['', 'K', 'M', 'B', 'T'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i && n < 10 ? n.toFixed(1) : Math.round(n)) + u[i] + ' params';
}

function modelSize(m) {
  const md = m.metadata || {};
  const v = md.size ?? md.file_size ?? md.size_bytes ?? m.size;
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
}

function modelFacts(m) {
  const md = m.metadata || {};
  const s = m.settings || {};
  return [md.quantization || md.file_type, fmtCount(md.parameters), fmtBytes(modelSize(m)), s.ctx_len ? 'ctx ' + s.ctx_len : '', md.architecture]
    .filter((x) => x !== undefined && x !== null && x !== '').join(' · ');
}

async function loadModels() {
  try {
    const j = await apiJSON('v1/models');
    models = (j && j.data) || [];
    $('conn').textContent = '';
  } catch (e) {
    $('conn').textContent = keyDeclined ? 'API key needed (click)' : 'offline';
    return;
  }
  const key = JSON.stringify(models);
  if (key === modelsKey) return;
  modelsKey = key;
  renderModels();
  renderModelSelect();
}

function renderModels() {
  const ul = $('models');
  ul.replaceChildren();
  if (!models.length) {
    ul.append(el('li', 'empty-note', 'No models yet. Add one below, or put a .gguf file in the models folder.'));
    return;
  }
  for (const m of models) {
    const li = el('li', 'model');
    li.dataset.id = m.id;
    const top = el('div', 'model-top');
    const name = el('span', 'name', m.id);
    if (m.name && m.name !== m.id) name.title = m.name;
    top.append(name);
    const state = m.state || 'missing';
    top.append(el('span', 'badge state-' + state, state));
    li.append(top, el('div', 'facts', modelFacts(m)));
    const dl = m.download || { transferred: 0, percent: 0 };
    if (state === 'downloading' || dl.state === 'error') {
      const bar = el('div', 'progress');
      const fill = el('div');
      const pct = dl.percent ?? (dl.total ? (100 * dl.transferred) / dl.total : 0);
      fill.style.width = Math.max(0, Math.min(100, pct)).toFixed(1) + '%';
      bar.append(fill);
      const txt = dl.state === 'error'
        ? 'Download failed' + (dl.error ? ': ' + dl.error : '')
        : `${Math.floor(pct)}% · ${fmtBytes(dl.transferred) || '0 B'}${dl.total ? ' of ' + fmtBytes(dl.total) : ''}${dl.speed ? ' · ' + fmtBytes(dl.speed) + '/s' : ''}`;
      li.append(bar, el('div', 'facts', txt));
    }
    if (m.error) li.append(el('div', 'facts err', m.error));
    const acts = el('div', 'actions');
    const btn = (act, label, cls) => { const b = el('button', cls || 'small', label); b.type = 'button'; b.dataset.act = act; acts.append(b); };
    if (state === 'running') btn('stop', 'Stop');
    else if (state === 'ready' || state === 'error') btn('start', 'Start');
    if (state !== 'downloading') btn('edit', 'Settings', 'small ghost');
    btn('delete', state === 'downloading' ? 'Cancel' : 'Delete', 'small ghost danger-text');
    li.append(acts);
    ul.append(li);
  }
}

async function modelAction(id, act) {
  const m = models.find((x) => x.id === id);
  try {
    if (act === 'start' || act === 'stop') {
      setStatus('busy', act === 'start' ? `Starting ${id}…` : `Stopping ${id}…`);
      await apiJSON(modelURL(id) + '/' + act, { method: 'POST', body: {} });
      setStatus('ready', 'Ready');
    } else if (act === 'delete') {
      if (!confirm(`Delete ${id} and its folder?`)) return;
      await apiJSON(modelURL(id), { method: 'DELETE' });
    } else if (act === 'edit') {
      openEditor(m);
      return;
    }
  } catch (e) {
    setStatus('error', `${id}: ${e.message}`);
  }
  refreshModels();
}

/* Polls faster while something is changing (download, start, stop).
   refreshModels() re-reads the list now, after the page changed something. */
let pollTimer = null;
async function pollModels() {
  clearTimeout(pollTimer);
  await loadModels();
  const busy = models.some((m) => ['downloading', 'starting', 'stopping'].includes(m.state));
  clearTimeout(pollTimer);
  pollTimer = setTimeout(pollModels, busy ? 1000 : 5000);
}
function refreshModels() {
  modelsKey = '';
  pollModels();
}

async function submitAdd(form, path, fields) {
  const body = {};
  for (const f of fields) { const v = form.elements[f].value.trim(); if (v) body[f] = v; }
  const msg = $('add-msg');
  msg.className = 'note';
  msg.textContent = 'Working…';
  try {
    const m = await apiJSON(path, { method: 'POST', body });
    const id = (m && m.id) || '';
    msg.textContent = path.endsWith('import') ? `Imported ${id}.` : `Downloading ${id}: progress is shown in the list.`;
    form.reset();
  } catch (e) {
    msg.className = 'note err';
    msg.textContent = e.message;
  }
  refreshModels();
}

/* ---------- model settings editor ---------- */

let editing = null;

function fieldRow(group, key, value) {
  const row = el('label', 'field');
  row.append(el('span', 'key', key));
  const input = el('input');
  input.dataset.group = group;
  input.dataset.key = key;
  input.dataset.kind = typeof value === 'object' && value !== null ? 'json' : typeof value;
  if (typeof value === 'boolean') { input.type = 'checkbox'; input.checked = value; }
  else if (typeof value === 'number') { input.type = 'number'; input.step = 'any'; input.value = value; }
  else if (input.dataset.kind === 'json') input.value = JSON.stringify(value);
  else input.value = value ?? '';
  row.append(input);
  return row;
}

function openEditor(m) {
  editing = m;
  $('edit-id').textContent = m.id;
  $('edit-msg').textContent = '';
  for (const g of ['settings', 'parameters']) {
    const box = $('edit-' + g);
    box.replaceChildren();
    const obj = m[g] || {};
    for (const k of Object.keys(obj)) box.append(fieldRow(g, k, obj[k]));
    if (!Object.keys(obj).length) box.append(el('p', 'muted small', '(none)'));
  }
  $('edit-dialog').showModal();
}

async function saveEditor(ev) {
  ev.preventDefault();
  const patch = { settings: {}, parameters: {} };
  try {
    for (const i of $('edit-form').querySelectorAll('input[data-group]')) {
      let v;
      if (i.dataset.kind === 'boolean') v = i.checked;
      else if (i.dataset.kind === 'number') { v = Number(i.value); if (i.value === '' || !isFinite(v)) throw new Error(`${i.dataset.key} must be a number`); }
      else if (i.dataset.kind === 'json') v = JSON.parse(i.value);
      else v = i.value;
      const old = (editing[i.dataset.group] || {})[i.dataset.key];
      if (JSON.stringify(v) !== JSON.stringify(old)) patch[i.dataset.group][i.dataset.key] = v; // only what changed
    }
    for (const g of ['settings', 'parameters']) if (!Object.keys(patch[g]).length) delete patch[g];
    if (!Object.keys(patch).length) { $('edit-dialog').close(); return; }
    let r = await api(modelURL(editing.id), { method: 'PATCH', body: patch });
    if (r.status === 404 || r.status === 405) r = await api(modelURL(editing.id), { method: 'POST', body: patch });
    if (!r.ok) throw new Error(await errorText(r));
    $('edit-dialog').close();
    refreshModels();
  } catch (e) {
    $('edit-msg').className = 'note err';
    $('edit-msg').textContent = e.message;
  }
}

/* ---------- chats, kept in localStorage ---------- */

let chats = [];
let currentId = null;

function loadChats() {
  try { chats = JSON.parse(localStorage.getItem('janc.chats')); } catch (e) { chats = null; }
  if (!Array.isArray(chats)) chats = [];
  chats = chats.filter((c) => c && typeof c.id === 'string' && Array.isArray(c.messages));
  currentId = localStorage.getItem('janc.current');
  if (!chats.some((c) => c.id === currentId)) newChat();
}

function saveChats() {
  try {
    localStorage.setItem('janc.chats', JSON.stringify(chats));
    localStorage.setItem('janc.current', currentId || '');
  } catch (e) { setStatus('error', 'Could not save chats: ' + e.message); }
}

const current = () => chats.find((c) => c.id === currentId);

function newChat() {
  const prev = current();
  if (prev && !prev.messages.length) return; // the current chat is still empty: use it
  const c = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), title: '', messages: [],
    model: prev ? prev.model : '', system: prev ? prev.system : '', updated: Date.now() };
  chats.unshift(c);
  currentId = c.id;
  saveChats();
}

function renderChats() {
  const ul = $('chats');
  ul.replaceChildren();
  for (const c of chats) {
    const li = el('li', 'chat' + (c.id === currentId ? ' active' : ''));
    li.dataset.id = c.id;
    li.append(el('span', 'title', c.title || 'New chat'));
    const x = el('button', 'ghost small', '✕');
    x.type = 'button';
    x.title = 'Delete this chat';
    x.dataset.act = 'delete';
    li.append(x);
    ul.append(li);
  }
}

function selectChat(id) {
  if (generating) return;
  currentId = id;
  saveChats();
  renderAll();
}

function deleteChat(id) {
  if (generating && id === currentId) return;
  chats = chats.filter((c) => c.id !== id);
  if (!current()) { if (chats.length) currentId = chats[0].id; else newChat(); }
  saveChats();
  renderAll();
}

function renderModelSelect() {
  const sel = $('model-select');
  const c = current();
  const usable = models.filter((m) => m.state && m.state !== 'downloading');
  sel.replaceChildren();
  if (!usable.length) sel.append(el('option', '', 'no model available'));
  for (const m of usable) {
    const o = el('option', '', m.id + (m.state === 'running' ? '  ●' : ''));
    o.value = m.id;
    sel.append(o);
  }
  if (c && usable.some((m) => m.id === c.model)) sel.value = c.model;
  else if (c && usable.length) c.model = sel.value;
  const m = models.find((x) => x.id === sel.value);
  const p = (m && m.parameters) || {};
  $('temperature').placeholder = p.temperature !== undefined ? `model: ${p.temperature}` : 'model default';
  $('max-tokens').placeholder = p.token_limit !== undefined ? `model: ${p.token_limit}` : 'model default';
}

function renderOptions() {
  const c = current();
  $('system').value = c.system || '';
  $('temperature').value = c.temperature ?? '';
  $('max-tokens').value = c.max_tokens ?? '';
}

/* ---------- markdown: escape first, then a small safe subset ---------- */

const escapeHTML = (s) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

/* s is already escaped; code spans and links are set aside first so the
   emphasis rules cannot reach into them. */
function inlineMD(s) {
  const keep = [];
  const put = (html) => '\u0000' + (keep.push(html) - 1) + '\u0000';
  s = s.replace(/`([^`\n]+)`/g, (m, c) => put('<code>' + c + '</code>'));
  s = s.replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s()]+)\)/g,
    (m, t, u) => put(`<a href="${u}" target="_blank" rel="noopener noreferrer">${t}</a>`));
  s = s.replace(/\*\*(?=\S)([^*\n]*?\S)\*\*/g, '<strong>$1</strong>').replace(/__(?=\S)([^_\n]*?\S)__/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?![*\w])/g, '$1<em>$2</em>')
    .replace(/(^|[^_\w])_(?=\S)([^_\n]*?\S)_(?![_\w])/g, '$1<em>$2</em>');
  return s.replace(/\u0000(\d+)\u0000/g, (m, i) => keep[+i]);
}

const LIST_RE = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
const FENCE_RE = /^\s*```\s*([\w+#.-]*)\s*$/;

function renderMarkdown(src) {
  const lines = String(src).replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i];
    let m;
    if ((m = l.match(FENCE_RE))) { // a code fence; an unclosed one runs to the end (still streaming)
      const code = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) code.push(lines[i]);
      i++;
      out.push('<pre><code' + (m[1] ? ` data-lang="${escapeHTML(m[1])}"` : '') + '>' + escapeHTML(code.join('\n')) + '</code></pre>');
    } else if ((m = l.match(/^(#{1,6})\s+(.*)$/))) {
      const n = Math.min(6, m[1].length + 2);
      out.push(`<h${n}>${inlineMD(escapeHTML(m[2]))}</h${n}>`);
      i++;
    } else if ((m = l.match(LIST_RE))) {
      const ordered = /\d/.test(m[1]);
      const items = [];
      while (i < lines.length && (m = lines[i].match(LIST_RE)) && /\d/.test(m[1]) === ordered) {
        items.push('<li>' + inlineMD(escapeHTML(m[2])) + '</li>');
        i++;
      }
      out.push((ordered ? '<ol>' : '<ul>') + items.join('') + (ordered ? '</ol>' : '</ul>'));
    } else if (!l.trim()) {
      i++;
    } else {
      const para = [];
      while (i < lines.length && lines[i].trim() && !FENCE_RE.test(lines[i]) && !/^#{1,6}\s/.test(lines[i]) && !LIST_RE.test(lines[i])) {
        para.push(inlineMD(escapeHTML(lines[i])));
        i++;
      }
      out.push('<p>' + para.join('<br>') + '</p>');
    }
  }
  return out.join('');
}

/* ---------- conversation view ---------- */

function messageNode(msg) {
  const d = el('div', 'msg ' + msg.role);
  d.append(el('div', 'who', msg.role === 'user' ? 'You' : msg.model || 'Assistant'));
  const body = el('div', 'body');
  if (msg.role === 'assistant') body.innerHTML = renderMarkdown(msg.content);
  else body.textContent = msg.content;
  d.append(body);
  if (msg.stopped) d.append(el('div', 'note', 'Stopped.'));
  if (msg.error) d.append(el('div', 'note err', msg.error));
  return d;
}

function renderMessages() {
  const box = $('messages');
  const c = current();
  box.replaceChildren();
  if (!c.messages.length) {
    const e = el('div', 'welcome');
    e.append(el('h1', '', 'Chat with a local model'),
      el('p', 'muted', 'Pick a model at the top, type a message below. Everything runs on this machine; chats are kept in this browser.'));
    box.append(e);
  }
  for (const msg of c.messages) box.append(messageNode(msg));
  box.scrollTop = box.scrollHeight;
}

function renderAll() {
  renderChats();
  renderModelSelect();
  renderOptions();
  renderMessages();
}

function setStatus(state, text) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = text;
}

/* ---------- sending, streaming, stopping ---------- */

let generating = null; // the AbortController of the running request

function setGenerating(ctrl) {
  generating = ctrl;
  $('send').hidden = !!ctrl;
  $('stop').hidden = !ctrl;
  $('model-select').disabled = !!ctrl;
}

/* Re-renders the last (streaming) message at most once per frame. */
let paintQueued = false;
function paintLast(msg) {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => {
    paintQueued = false;
    const box = $('messages');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const last = box.lastElementChild;
    if (last) last.replaceWith(messageNode(msg));
    if (atBottom) box.scrollTop = box.scrollHeight;
  });
}

async function send(text) {
  const c = current();
  const modelId = $('model-select').value;
  const model = models.find((m) => m.id === modelId);
  if (!model) { setStatus('error', 'No model to chat with: add one in the left column.'); return; }
  c.model = modelId;
  if (!c.title) c.title = text.slice(0, 60);
  c.messages.push({ role: 'user', content: text });
  const history = c.messages.filter((m) => m.content).map(({ role, content }) => ({ role, content }));
  const reply = { role: 'assistant', content: '', model: modelId };
  c.messages.push(reply);
  c.updated = Date.now();
  chats = [c].concat(chats.filter((x) => x !== c));
  saveChats();
  renderChats();
  renderMessages();

  const ctrl = new AbortController();
  setGenerating(ctrl);
  let n = 0;
  try {
    if (model.state !== 'running') {
      setStatus('busy', `Starting ${modelId}…`);
      await apiJSON(modelURL(modelId) + '/start', { method: 'POST', body: {}, signal: ctrl.signal });
      refreshModels();
    }
    setStatus('busy', 'Generating…');
    const body = { model: modelId, stream: true,
      messages: (c.system ? [{ role: 'system', content: c.system }] : []).concat(history) };
    if (c.temperature !== undefined && c.temperature !== '') body.temperature = Number(c.temperature);
    if (c.max_tokens !== undefined && c.max_tokens !== '') body.max_tokens = Number(c.max_tokens);
    const r = await api('v1/chat/completions', { method: 'POST', body, signal: ctrl.signal });
    if (!r.ok) throw new Error(await errorText(r));
    const take = (j) => {
      if (j.error) throw new Error(j.error.message || 'error');
      const ch = j.choices && j.choices[0];
      if (!ch) return;
      const t = (ch.delta && ch.delta.content) || (ch.message && ch.message.content) || ch.text || '';
      if (t) { reply.content += t; n++; setStatus('busy', `Generating… ${n}`); paintLast(reply); }
      if (ch.finish_reason) reply.finish = ch.finish_reason;
    };
    if (!(r.headers.get('content-type') || '').includes('text/event-stream')) {
      take(await r.json()); // a server that answered without streaming
    } else {
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let k;
        while ((k = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, k).replace(/\r$/, '');
          buf = buf.slice(k + 1);
          if (!line.startsWith('data:')) continue;
          const data = line.slice(5).trim();
          if (data === '[DONE]') continue;
          let j;
          try { j = JSON.parse(data); } catch (e) { continue; }
          take(j);
        }
      }
    }
    setStatus('ready', reply.finish === 'length' ? 'Ready (stopped at the token limit)' : 'Ready');
  } catch (e) {
    if (e.name === 'AbortError') { reply.stopped = true; setStatus('ready', 'Ready (stopped)'); }
    else { reply.error = e.message; setStatus('error', e.message); }
  } finally {
    setGenerating(null);
    c.updated = Date.now();
    saveChats();
    renderMessages();
    $('input').focus();
  }
}

/* ---------- wiring ---------- */

function wire() {
  $('composer').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('input').value.trim();
    if (!text || generating) return;
    $('input').value = '';
    send(text);
  });
  $('input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $('composer').requestSubmit(); }
  });
  $('stop').addEventListener('click', () => generating && generating.abort());
  $('models').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-act]');
    if (b) modelAction(b.closest('li').dataset.id, b.dataset.act);
  });
  $('chats').addEventListener('click', (ev) => {
    const li = ev.target.closest('li');
    if (!li) return;
    if (ev.target.closest('button[data-act="delete"]')) deleteChat(li.dataset.id);
    else { selectChat(li.dataset.id); document.body.classList.remove('side-open'); }
  });
  $('new-chat').addEventListener('click', () => { if (!generating) { newChat(); renderAll(); $('input').focus(); } });
  $('refresh').addEventListener('click', refreshModels);
  $('model-select').addEventListener('change', () => { current().model = $('model-select').value; saveChats(); renderModelSelect(); });
  $('toggle-opts').addEventListener('click', () => {
    const o = $('opts');
    o.hidden = !o.hidden;
    $('toggle-opts').setAttribute('aria-expanded', String(!o.hidden));
  });
  const keepOpt = (id, field) => $(id).addEventListener('input', () => { current()[field] = $(id).value; saveChats(); });
  keepOpt('system', 'system');
  keepOpt('temperature', 'temperature');
  keepOpt('max-tokens', 'max_tokens');
  $('import-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitAdd(ev.target, 'v1/models/import', ['path', 'id', 'mode']); });
  $('download-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitAdd(ev.target, 'v1/models', ['source_url', 'id']); });
  $('edit-save').addEventListener('click', saveEditor);
  $('open-side').addEventListener('click', () => document.body.classList.add('side-open'));
  $('close-side').addEventListener('click', () => document.body.classList.remove('side-open'));
  document.querySelector('.main').addEventListener('click', (ev) => {
    if (!ev.target.closest('#open-side')) document.body.classList.remove('side-open');
  });
  $('conn').addEventListener('click', async () => {
    if (!keyDeclined) return;
    keyDeclined = false;
    if (await askKey()) refreshModels();
  });
}

loadChats();
wire();
renderAll();
pollModels();
