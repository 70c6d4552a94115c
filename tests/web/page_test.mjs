/*
 * page_test.mjs — drives janc's built-in page in headless Chromium
 * (Debian's /usr/bin/chromium, through playwright-core). Run by
 * tests/e2e_web.sh against a real `janc serve` (or by hand against
 * tests/web/mock_server.py). It proves, through the page as a person uses it:
 *   - the page loads from the server and asks for the API key on a 401;
 *   - the models list shows MODEL_ID with its state and facts;
 *   - a chat message gets an answer streamed over SSE (stream:true request,
 *     text/event-stream response, non-empty text in the conversation);
 *   - Stop aborts a long generation, the UI returns to ready, and the next
 *     message is answered (the server freed the slot);
 *   - chats survive a reload (localStorage);
 *   - the markdown renderer lets no HTML or javascript: link through;
 *   - import (IMPORT_PATH), download (DOWNLOAD_URL) and delete from the
 *     models column, and the Settings form saving a parameter;
 *   - the narrow layout; no page errors; no request outside janc.
 * Screenshots go to $WEB_ARTIFACTS. Exits 0 on success, 1 with a message.
 *
 * env: JANC_URL (http://127.0.0.1:PORT/), MODEL_ID, API_KEY, IMPORT_PATH,
 *      DOWNLOAD_URL (the last three optional),
 *      WEB_ARTIFACTS (folder), CHROMIUM (default /usr/bin/chromium),
 *      LONG_TOKENS (max tokens for the stop test, default 100000)
 */
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const url = process.env.JANC_URL;
const modelId = process.env.MODEL_ID || 'stories';
const apiKey = process.env.API_KEY || '';
const out = process.env.WEB_ARTIFACTS || '.';
const longTokens = process.env.LONG_TOKENS || '100000';
mkdirSync(out, { recursive: true });

const log = (...a) => console.log('web:', ...a);
function check(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  log('ok -', what);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  timeout: 20000,
});
let page;
try {
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // Anything the page fetches must come from janc itself.
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith(url)) foreign.push(r.url()); });

  await page.goto(url);
  check(await page.title() === 'janc', 'the page is served at / with its title');

  if (apiKey) {
    await page.locator('#key-dialog').waitFor({ state: 'visible' });
    check(true, 'a 401 from the API opens the key dialog');
    await page.fill('#key-input', apiKey);
    await page.click('#key-dialog button[value="ok"]');
  }

  const item = page.locator(`#models li.model[data-id="${modelId}"]`);
  await item.waitFor({ state: 'visible' });
  const itemText = await item.innerText();
  check(/ready|running/.test(itemText), `the models list shows ${modelId} with its state (${itemText.replace(/\s+/g, ' ')})`);
  if (apiKey) check(await page.evaluate(() => localStorage.getItem('janc.apiKey')) === apiKey, 'the key is kept in localStorage');

  // A chat message, streamed.
  await page.selectOption('#model-select', modelId);
  let chatReq = null;
  let chatResp = null;
  page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) chatReq = r; });
  page.on('response', (r) => { if (r.url().endsWith('/v1/chat/completions')) chatResp = r; });
  await page.click('#toggle-opts');
  await page.fill('#max-tokens', '48');
  await page.fill('#input', 'Once upon a time');
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#messages .msg.assistant').length === 1);
  await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'busy', null, { timeout: 30000 });
  const status1 = await page.locator('#status').innerText();
  check(await page.locator('#status').getAttribute('data-state') === 'ready', `the page is ready after the answer (status: ${status1})`);
  const answer = (await page.locator('#messages .msg.assistant .body').first().innerText()).trim();
  check(answer.length > 0, `a non-empty answer appears: ${JSON.stringify(answer.slice(0, 80))}`);
  check(chatReq && JSON.parse(chatReq.postData()).stream === true, 'the chat request asks for stream:true');
  check(chatResp && (chatResp.headers()['content-type'] || '').includes('text/event-stream'), 'the answer came as text/event-stream');
  check(JSON.parse(chatReq.postData()).max_tokens === 48, 'the max tokens option is sent');
  await page.screenshot({ path: `${out}/chat.png` });

  // Stop a long generation.
  // The long generation must outlast the click: the test (not the page) adds
  // ignore_eos to this one request so a story cannot end early.
  await page.route('**/v1/chat/completions', (route) => {
    const b = JSON.parse(route.request().postData());
    route.continue({ postData: JSON.stringify(Object.assign(b, { ignore_eos: true })) });
  });
  await page.fill('#max-tokens', longTokens);
  await page.fill('#input', 'Tell me a very long story');
  await page.press('#input', 'Enter');
  await page.locator('#stop').waitFor({ state: 'visible' });
  // Press Stop in the same tick as seeing text arrive while the page is busy,
  // so the stop surely lands during the generation.
  await page.waitForFunction(() => {
    const b = document.querySelectorAll('#messages .msg.assistant .body');
    if (b.length !== 2 || !b[1].textContent.trim() || document.getElementById('status').dataset.state !== 'busy') return false;
    document.getElementById('stop').click();
    return true;
  }, null, { timeout: 20000, polling: 10 });
  check(true, 'Stop is pressed while a long generation is streaming');
  await page.waitForFunction(() => document.getElementById('status').dataset.state === 'ready', null, { timeout: 5000 });
  check(await page.locator('#send').isVisible(), 'after Stop the UI is ready again (Send is back)');
  check((await page.locator('#messages .msg.assistant').nth(1).innerText()).includes('Stopped.'), 'the stopped answer is marked as stopped');
  await page.unroute('**/v1/chat/completions');

  // The server freed the slot: another message is answered.
  await page.fill('#max-tokens', '16');
  await page.fill('#input', 'And then?');
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => document.querySelectorAll('#messages .msg.assistant').length === 3);
  await page.waitForFunction(() => document.getElementById('status').dataset.state !== 'busy', null, { timeout: 30000 });
  const third = (await page.locator('#messages .msg.assistant .body').nth(2).innerText()).trim();
  check(await page.locator('#status').getAttribute('data-state') === 'ready' && third.length > 0,
    'a message after Stop is answered (' + (await page.locator('#status').innerText()) + ')');
  await page.screenshot({ path: `${out}/page.png` });

  // Chats are kept in the browser.
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length === 6);
  check((await page.locator('#chats li.active').innerText()).includes('Once upon a time'), 'the chat survives a reload');

  // The markdown renderer: escapes HTML first, keeps only http(s) links.
  const md = await page.evaluate(() => renderMarkdown(
    '<img src=x onerror=alert(1)> **bold** *it* `<b>`\n\n```js\nlet a = "<script>";\n```\n- one\n- two\n\n' +
    '[ok](https://example.com/a_b_c) [bad](javascript:alert(1))'));
  check(!/<img|<script|<b>|href="javascript/i.test(md), 'markdown lets no raw HTML or javascript: link through');
  check(md.includes('<strong>bold</strong>') && md.includes('<em>it</em>') && md.includes('<code>&lt;b&gt;</code>') &&
    md.includes('<pre><code data-lang="js">let a = &quot;&lt;script&gt;&quot;;</code></pre>') &&
    md.includes('<ul><li>one</li><li>two</li></ul>') && md.includes('href="https://example.com/a_b_c"'),
  'markdown renders bold, italic, code, fences, lists and http(s) links');

  // Model management through the page (each step when the script gives its input).
  page.on('dialog', (d) => d.accept()); // the delete confirmation
  const getModel = (id) => page.evaluate(async (mid) => {
    const r = await api('v1/models/' + encodeURIComponent(mid));
    return r.ok ? r.json() : null;
  }, id);
  const stateOf = (id) => page.locator(`#models li.model[data-id="${id}"] .badge`);
  if (process.env.IMPORT_PATH) {
    await page.click('#add summary');
    await page.fill('#import-form input[name=path]', process.env.IMPORT_PATH);
    await page.fill('#import-form input[name=id]', 'web-imported');
    await page.selectOption('#import-form select[name=mode]', 'link');
    await page.click('#import-form button');
    await page.locator('#models li.model[data-id="web-imported"]').waitFor();
    await page.waitForFunction(() => /ready|running/.test(document.querySelector('#models li.model[data-id="web-imported"] .badge').textContent));
    check(true, 'a GGUF file on this machine is imported from the form and listed as ready');
    await page.click('#models li.model[data-id="web-imported"] button[data-act=delete]');
    await page.locator('#models li.model[data-id="web-imported"]').waitFor({ state: 'detached' });
    check(await getModel('web-imported') === null, 'Delete removes it (GET gives 404)');
  }
  if (process.env.DOWNLOAD_URL) {
    if (!(await page.locator('#download-form').isVisible())) await page.click('#add summary');
    await page.fill('#download-form input[name=source_url]', process.env.DOWNLOAD_URL);
    await page.fill('#download-form input[name=id]', 'web-fetched');
    await page.click('#download-form button');
    await page.locator('#models li.model[data-id="web-fetched"]').waitFor();
    await page.waitForFunction(() => {
      const b = document.querySelector('#models li.model[data-id="web-fetched"] .badge');
      return b && b.textContent === 'ready';
    }, null, { timeout: 20000 });
    check(true, 'a model downloaded from a link shows up ready (' + (await stateOf('web-fetched').innerText()) + ')');
  }
  {
    const before = await getModel(modelId);
    const t = before.parameters.temperature === 0.55 ? 0.45 : 0.55;
    await page.click(`#models li.model[data-id="${modelId}"] button[data-act=edit]`);
    await page.fill('#edit-parameters input[data-key=temperature]', String(t));
    const patchReq = page.waitForRequest((r) => r.method() === 'PATCH');
    await page.click('#edit-save');
    const sent = JSON.parse((await patchReq).postData());
    check(JSON.stringify(sent) === JSON.stringify({ parameters: { temperature: t } }), 'the form sends only the field that changed (PATCH)');
    await page.waitForFunction(() => !document.getElementById('edit-dialog').open || document.getElementById('edit-msg').textContent,
      null, { timeout: 5000 });
    const msg = await page.locator('#edit-msg').innerText();
    const after = await getModel(modelId);
    check(after.parameters.temperature === t, `the Settings form saves parameters.temperature = ${t} (got ${after.parameters.temperature}${msg ? '; ' + msg : ''})`);
    check(after.settings.ctx_len === before.settings.ctx_len && after.parameters.top_p === before.parameters.top_p,
      'untouched settings and parameters keep their values and types');
  }

  // A narrow window: the models column becomes a drawer.
  await page.setViewportSize({ width: 420, height: 780 });
  const sideRect = () => page.evaluate(() => document.getElementById('side').getBoundingClientRect().toJSON());
  await page.waitForFunction(() => document.getElementById('side').getBoundingClientRect().right <= 0, null, { timeout: 3000 })
    .catch(() => {});
  check((await sideRect()).right <= 0, 'in a narrow window the models column is tucked away');
  await page.click('#open-side');
  await page.waitForFunction(() => document.getElementById('side').getBoundingClientRect().left >= 0, null, { timeout: 3000 })
    .catch(() => {});
  check((await sideRect()).left >= 0, 'the ☰ Models button opens it');
  await page.screenshot({ path: `${out}/narrow.png` });

  check(pageErrors.length === 0, 'no JavaScript errors on the page' + (pageErrors.length ? ': ' + pageErrors.join('; ') : ''));
  check(foreign.length === 0, 'the page fetched nothing but janc' + (foreign.length ? ': ' + foreign.join(' ') : ''));
  log('all checks passed');
} catch (e) {
  console.error('web:', e.message);
  if (page) await page.screenshot({ path: `${out}/failure.png` }).catch(() => {});
  await browser.close();
  process.exit(1);
}
await browser.close();
