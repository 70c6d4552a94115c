// openai_sdk.test.cjs — the official OpenAI Node SDK, unmodified, against
// `janc serve`: models.list / retrieve / delete, chat.completions.create
// (streaming and not), completions, embeddings (the SDK asks for base64 and
// decodes it), and the SDK's typed errors (404, 400). Run by
// tests/e2e_server_js.sh with JANC_URL set to the server and the model
// "tiny" (stories260K) plus JANC_IMPORT_PATH (a GGUF file to import for the
// delete test).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const mod = require('openai');
const OpenAI = mod.OpenAI || mod.default || mod;

const base = process.env.JANC_URL;
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: process.env.JANC_KEY || 'unused', maxRetries: 0 });

test('models.list returns the models folder', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    ids.push(m.id);
  }
  assert.ok(ids.includes('tiny'), `tiny not in ${ids}`);
});

test('models.retrieve returns one Model', async () => {
  const m = await client.models.retrieve('tiny');
  assert.equal(m.id, 'tiny');
  assert.equal(m.object, 'model');
  assert.equal(typeof m.created, 'number');
  assert.equal(typeof m.owned_by, 'string');
});

test('models.retrieve of an unknown id is a NotFoundError', async () => {
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => e instanceof mod.NotFoundError && e.status === 404);
});

test('models.delete removes an imported model', async () => {
  const r = await fetch(`${base}/v1/models/import`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: process.env.JANC_IMPORT_PATH, id: 'sdk-del', mode: 'link' }),
  });
  assert.equal(r.status, 200);
  const del = (client.models.delete || client.models.del).bind(client.models);
  const d = await del('sdk-del');
  assert.deepEqual({ id: d.id, object: d.object, deleted: d.deleted }, { id: 'sdk-del', object: 'model', deleted: true });
  await assert.rejects(client.models.retrieve('sdk-del'), (e) => e.status === 404);
});

test('chat.completions.create, not streaming', async () => {
  const r = await client.chat.completions.create({
    model: 'tiny',
    messages: [{ role: 'user', content: 'Once upon a time' }],
    max_tokens: 10,
    temperature: 0,
  });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.choices[0].message.content.length > 0);
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat.completions.create, streaming', async () => {
  const stream = await client.chat.completions.create({
    model: 'tiny',
    messages: [{ role: 'user', content: 'Tell a story' }],
    max_tokens: 16,
    stream: true,
    stream_options: { include_usage: true },
  });
  const ids = new Set();
  let text = '';
  let role = null;
  let finish = null;
  let usage = null;
  let n = 0;
  for await (const chunk of stream) {
    ids.add(chunk.id);
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    if (!chunk.choices.length) continue;
    const c = chunk.choices[0];
    if (n++ === 0) role = c.delta.role;
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(ids.size, 1);
  assert.equal(role, 'assistant');
  assert.ok(text.length > 0);
  assert.ok(['stop', 'length'].includes(finish));
  assert.ok(usage && usage.completion_tokens > 0);
});

test('completions.create', async () => {
  const r = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.ok(r.choices[0].text.length > 0);
  assert.equal(r.usage.completion_tokens, 6);
});

test('embeddings.create (base64 on the wire, decoded by the SDK)', async () => {
  const r = await client.embeddings.create({ model: 'tiny', input: ['hello', 'world'] });
  assert.equal(r.object, 'list');
  assert.equal(r.data.length, 2);
  const v = r.data[0].embedding;
  assert.ok(v.length > 0);
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
});

test('a bad parameter is a BadRequestError naming it', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], temperature: -1 }),
    (e) => e instanceof mod.BadRequestError && e.status === 400 && e.param === 'temperature',
  );
});
