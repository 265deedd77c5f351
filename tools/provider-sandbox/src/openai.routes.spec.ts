import OpenAI from 'openai';
import { Sandbox, createSandbox } from './sandbox';

describe('OpenAI chat completions', () => {
  let sandbox: Sandbox;
  let client: OpenAI;

  beforeAll(async () => {
    sandbox = await createSandbox();
    client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sandbox.url}/v1`, maxRetries: 0 });
  });

  afterAll(async () => {
    await sandbox.close();
  });

  beforeEach(() => sandbox.reset());

  it('answers the official SDK with a deterministic reply quoting the last user message', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are a real-estate assistant.' },
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'Tem apartamento de 2 quartos?' },
      ],
      max_completion_tokens: 200,
    });
    expect(completion).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Sandbox AI: you said "Tem apartamento de 2 quartos?"',
            refusal: null,
          },
          finish_reason: 'stop',
        },
      ],
    });
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.usage?.total_tokens).toBe(
      (completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0),
    );
  });

  it('reads content given as text parts', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'parts' }] }],
    });
    expect(completion.choices[0].message.content).toBe('Sandbox AI: you said "parts"');
  });

  it('streams when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream me' }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('Sandbox AI: you said "stream me"');
  });

  it('answers errors in OpenAI shape', async () => {
    const noKey = await fetch(`${sandbox.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', messages: [] }),
    });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({
      error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: null },
    });

    await expect(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [] }),
    ).rejects.toMatchObject({ status: 400, param: 'messages' });
  });

  it('fails with insufficient_quota when a fault says so', async () => {
    await fetch(`${sandbox.url}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'openai', status: 429, count: 1, errorCode: 'insufficient_quota' }),
    });
    // A retrying client must not retry an exhausted quota.
    const retrying = new OpenAI({ apiKey: 'sk-test', baseURL: `${sandbox.url}/v1`, maxRetries: 2 });
    await expect(
      retrying.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
    const next = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(next.choices[0].message.content).toBe('Sandbox AI: you said "hi"');
  });
});
