import { AddressInfo } from 'node:net';
import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { MetaGraphClient, MetaGraphClientOptions } from './graph.client';
import { MetaAdsError } from './graph.errors';
import { AdObjective, MetaLogger } from './meta-ads.api';

// A stand-in for Graph on an ephemeral port: it records every request and answers from a script,
// so each test says exactly what Meta does and checks exactly what we sent.

const ACCESS_TOKEN = 'test-access-token';
const APP_SECRET = 'dev-meta-app-secret';
// openssl: printf %s test-access-token | openssl dgst -sha256 -hmac dev-meta-app-secret
const EXPECTED_PROOF = '47e75c9ad546e1d89ac3d01c871042fbd48a9f710d007835cb076dfcc1542bbc';

interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
}

type Reply = { status: number; body?: unknown; rawBody?: string; headers?: Record<string, string> } | 'hang';

class FakeGraph {
  readonly requests: RecordedRequest[] = [];
  private readonly script: Reply[] = [];
  private fallback: Reply = { status: 500, body: { error: { message: 'unscripted', code: 2 } } };
  private server?: Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const raw = Buffer.concat(chunks).toString('utf8');
        this.requests.push({
          method: req.method ?? '',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body: raw === '' ? undefined : (JSON.parse(raw) as unknown),
        });
        const reply = this.script.shift() ?? this.fallback;
        if (reply === 'hang') {
          return;
        }
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.rawBody ?? JSON.stringify(reply.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  reply(...replies: Reply[]): this {
    this.script.push(...replies);
    return this;
  }

  always(reply: Reply): this {
    this.fallback = reply;
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.script.length = 0;
    this.always({ status: 500, body: { error: { message: 'unscripted', code: 2 } } });
  }
}

function graphError(code: number, extra: Record<string, unknown> = {}): { error: Record<string, unknown> } {
  return {
    error: {
      message: `(#${code}) simulated`,
      type: 'OAuthException',
      code,
      fbtrace_id: `trace-${code}`,
      ...extra,
    },
  };
}

async function rejectionOf(promise: Promise<unknown>): Promise<MetaAdsError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(MetaAdsError);
    return error as MetaAdsError;
  }
  throw new Error('expected the call to reject');
}

const graph = new FakeGraph();
let sleeps: number[];
let logs: Array<{ level: string; obj: Record<string, unknown>; msg: string }>;

const logger: MetaLogger = {
  info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
  warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
  debug: (obj, msg) => logs.push({ level: 'debug', obj, msg }),
};

function client(overrides: Partial<MetaGraphClientOptions> = {}): MetaGraphClient {
  return new MetaGraphClient({
    baseUrl: graph.baseUrl,
    accessToken: ACCESS_TOKEN,
    appSecret: APP_SECRET,
    timeoutMs: 2000,
    maxRetries: 4,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0,
    logger,
    ...overrides,
  });
}

const createInput = {
  adAccountId: '1234567890',
  name: 'realapp-order-o-1',
  objective: 'traffic' as AdObjective,
  status: 'PAUSED' as const,
  lifetimeBudgetCents: 15_000,
};

beforeAll(() => graph.start());
afterAll(() => graph.stop());
beforeEach(() => {
  graph.reset();
  sleeps = [];
  logs = [];
});

describe('MetaGraphClient requests', () => {
  it('signs every call with the bearer token and appsecret_proof under the version prefix', async () => {
    graph.reply({ status: 200, body: { id: '120000000001' } });

    await expect(client().createCampaign(createInput)).resolves.toEqual({ id: '120000000001' });

    const [request] = graph.requests;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v26.0/act_1234567890/campaigns');
    expect(request.headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(request.query.get('appsecret_proof')).toBe(EXPECTED_PROOF);
    // The token travels in the header only, never in a URL that proxies and access logs keep.
    expect(request.query.get('access_token')).toBeNull();
  });

  it('uses the configured API version and tolerates a trailing slash in the base URL', async () => {
    graph.reply({ status: 200, body: { success: true } });

    await client({ baseUrl: `${graph.baseUrl}/`, apiVersion: 'v24.0' }).updateCampaignStatus(
      '1200',
      'ACTIVE',
    );

    expect(graph.requests[0].path).toBe('/v24.0/1200');
  });

  it('sends the create body Graph requires: objective, special_ad_categories, integer lifetime_budget', async () => {
    graph.reply({ status: 200, body: { id: '120000000002' } });

    await client().createCampaign({ ...createInput, adAccountId: 'act_1234567890', status: 'ACTIVE' });

    const [request] = graph.requests;
    expect(request.path).toBe('/v26.0/act_1234567890/campaigns');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual({
      name: 'realapp-order-o-1',
      objective: 'OUTCOME_TRAFFIC',
      status: 'ACTIVE',
      special_ad_categories: [],
      lifetime_budget: 15000,
    });
  });

  it.each<[AdObjective, string]>([
    ['traffic', 'OUTCOME_TRAFFIC'],
    ['engagement', 'OUTCOME_ENGAGEMENT'],
    ['leads', 'OUTCOME_LEADS'],
    ['sales', 'OUTCOME_SALES'],
    ['awareness', 'OUTCOME_AWARENESS'],
  ])('maps objective %s to %s', async (objective, expected) => {
    graph.reply({ status: 200, body: { id: '1' } });

    await client().createCampaign({ ...createInput, objective });

    expect(graph.requests[0].body).toMatchObject({ objective: expected });
  });

  it.each([0, -100, 10.5, Number.NaN])(
    'refuses lifetimeBudgetCents=%s without calling Meta',
    async (cents) => {
      const error = await rejectionOf(
        client().createCampaign({ ...createInput, lifetimeBudgetCents: cents }),
      );

      expect(error).toMatchObject({ code: 'meta_rejected', retryable: false });
      expect(graph.requests).toHaveLength(0);
    },
  );

  it('finds a campaign by exact name with Graph filtering', async () => {
    graph.reply({
      status: 200,
      body: {
        data: [
          { id: '999', name: 'realapp-order-o-10', status: 'ACTIVE' },
          { id: '555', name: 'realapp-order-o-1', status: 'PAUSED' },
        ],
      },
    });

    const found = await client().findCampaignByName({ adAccountId: '1234567890', name: 'realapp-order-o-1' });

    const [request] = graph.requests;
    expect(request.method).toBe('GET');
    expect(request.path).toBe('/v26.0/act_1234567890/campaigns');
    expect(request.query.get('fields')).toBe('id,name,status');
    expect(JSON.parse(request.query.get('filtering') ?? 'null')).toEqual([
      { field: 'name', operator: 'EQUAL', value: 'realapp-order-o-1' },
    ]);
    expect(request.query.get('appsecret_proof')).toBe(EXPECTED_PROOF);
    // The near-miss name from an ignored filter is not adopted.
    expect(found).toEqual({ id: '555', status: 'PAUSED' });
  });

  it('answers null when no campaign carries the name', async () => {
    graph.reply({ status: 200, body: { data: [] } });

    await expect(
      client().findCampaignByName({ adAccountId: '1', name: 'realapp-order-x' }),
    ).resolves.toBeNull();
  });

  it('updates the status with a POST on the campaign id', async () => {
    graph.reply({ status: 200, body: { success: true } });

    await client().updateCampaignStatus('120000000001', 'PAUSED');

    expect(graph.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v26.0/120000000001',
      body: { status: 'PAUSED' },
    });
  });

  it('refuses a campaign id that would change the URL path', async () => {
    const error = await rejectionOf(client().updateCampaignStatus('../act_1/campaigns', 'ACTIVE'));

    expect(error.code).toBe('meta_rejected');
    expect(graph.requests).toHaveLength(0);
  });

  it.each([
    ['12.34', 1234],
    ['0.1', 10],
    ['1000000.05', 100000005],
    ['0', 0],
    ['7', 700],
  ])('reads insights spend %s as %i cents', async (spend, cents) => {
    graph.reply({
      status: 200,
      body: { data: [{ spend, date_start: '2026-08-01', date_stop: '2026-08-02' }] },
    });

    await expect(client().getCampaignSpendCents('120000000001')).resolves.toBe(cents);

    const [request] = graph.requests;
    expect(request.method).toBe('GET');
    expect(request.path).toBe('/v26.0/120000000001/insights');
    expect(request.query.get('fields')).toBe('spend');
    expect(request.query.get('date_preset')).toBe('maximum');
  });

  it('reads no insights rows as zero spend', async () => {
    graph.reply({ status: 200, body: { data: [] } });

    await expect(client().getCampaignSpendCents('120000000001')).resolves.toBe(0);
  });

  it('treats an unreadable spend as an outage, not as zero', async () => {
    graph.always({ status: 200, body: { data: [{ spend: '12,34' }] } });

    const error = await rejectionOf(client({ maxRetries: 0 }).getCampaignSpendCents('1'));

    expect(error).toMatchObject({ code: 'meta_unavailable', retryable: true });
  });

  it('never writes the access token or app secret into a log line', async () => {
    graph.reply(
      { status: 500, body: graphError(2) },
      { status: 200, body: { data: [] } },
      { status: 200, body: { id: '1' } },
    );

    await client().createCampaign(createInput);

    const logged = JSON.stringify(logs);
    expect(logs.length).toBeGreaterThan(0);
    expect(logged).not.toContain(ACCESS_TOKEN);
    expect(logged).not.toContain(APP_SECRET);
    expect(logs.every((line) => line.obj.metaMode === 'graph')).toBe(true);
  });
});

describe('MetaGraphClient retries', () => {
  const retried: Array<[string, number]> = [
    ['unknown error', 1],
    ['service unavailable', 2],
    ['app rate limit', 4],
    ['user rate limit', 17],
    ['application limit', 341],
    ['rate limit reached', 613],
    ...Array.from({ length: 15 }, (_, i): [string, number] => ['business use case limit', 80000 + i]),
  ];

  it.each(retried)('retries %s (code %i) and then succeeds', async (_label, code) => {
    graph.reply({ status: 400, body: graphError(code) }, { status: 200, body: { success: true } });

    await client().updateCampaignStatus('1', 'ACTIVE');

    expect(graph.requests).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
  });

  const permanent: Array<[string, number, string?]> = [
    ['invalid token', 190],
    ['permission', 10],
    ['permission range start', 200],
    ['ads permission', 294],
    ['permission range end', 299],
    ['unknown method', 3],
    ['invalid parameter', 100],
    ['duplicate post', 506],
  ];

  it.each(permanent)('does not retry %s (code %i)', async (_label, code) => {
    graph.always({ status: 400, body: graphError(code, { error_subcode: 33, error_user_msg: 'Fix it' }) });

    const error = await rejectionOf(client().updateCampaignStatus('1', 'ACTIVE'));

    expect(graph.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error).toMatchObject({
      code: 'meta_rejected',
      retryable: false,
      graph: { code, subcode: 33, fbtraceId: `trace-${code}`, userMessage: 'Fix it', httpStatus: 400 },
    });
    expect(error.message).toContain(`fbtrace_id trace-${code}`);
  });

  it('does not retry an expired token even when Graph answers 500', async () => {
    graph.always({ status: 500, body: graphError(190) });

    const error = await rejectionOf(client().getCampaignSpendCents('1'));

    expect(graph.requests).toHaveLength(1);
    expect(error.code).toBe('meta_rejected');
  });

  it.each([500, 502, 503, 504])('retries HTTP %i without a Graph body', async (status) => {
    graph.reply({ status, rawBody: '<html>bad gateway</html>' }, { status: 200, body: { success: true } });

    await client().updateCampaignStatus('1', 'PAUSED');

    expect(graph.requests).toHaveLength(2);
  });

  it('waits what X-Business-Use-Case-Usage asks (1 minute) before retrying', async () => {
    const usage = {
      '987654321': [
        {
          type: 'ads_management',
          call_count: 100,
          total_cputime: 40,
          total_time: 40,
          estimated_time_to_regain_access: 1,
        },
      ],
    };
    graph.reply(
      {
        status: 400,
        body: graphError(80004),
        headers: { 'x-business-use-case-usage': JSON.stringify(usage) },
      },
      { status: 200, body: { success: true } },
    );

    await client({ random: () => 0.999 }).updateCampaignStatus('1', 'PAUSED');

    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(60_000);
    expect(sleeps[0]).toBeLessThanOrEqual(61_000);
    expect(graph.requests).toHaveLength(2);
  });

  it('waits what X-Ad-Account-Usage reset_time_duration asks', async () => {
    graph.reply(
      {
        status: 400,
        body: graphError(17),
        headers: { 'x-ad-account-usage': JSON.stringify({ acc_id_util_pct: 100, reset_time_duration: 30 }) },
      },
      { status: 200, body: { success: true } },
    );

    await client().updateCampaignStatus('1', 'PAUSED');

    expect(sleeps).toEqual([30_000]);
  });

  it('hands a wait longer than the cap to the message-level retry instead of sleeping', async () => {
    const usage = { '987654321': [{ type: 'ads_management', estimated_time_to_regain_access: 60 }] };
    graph.always({
      status: 400,
      body: graphError(80000),
      headers: { 'x-business-use-case-usage': JSON.stringify(usage) },
    });

    const error = await rejectionOf(client().createCampaign(createInput));

    expect(sleeps).toEqual([]);
    expect(graph.requests).toHaveLength(1);
    expect(error).toMatchObject({ code: 'meta_throttled', retryable: true, retryAfterMs: 3_600_000 });
  });

  it('sleeps through a long wait when the cap allows it', async () => {
    const usage = { '1': [{ estimated_time_to_regain_access: 3 }] };
    graph.reply(
      { status: 400, body: graphError(4), headers: { 'x-business-use-case-usage': JSON.stringify(usage) } },
      { status: 200, body: { success: true } },
    );

    await client({ maxRetryAfterMs: 300_000 }).updateCampaignStatus('1', 'PAUSED');

    expect(sleeps).toEqual([180_000]);
  });

  it('backs off from code 368 for longer than the default cap, so the message retry waits it out', async () => {
    graph.always({ status: 400, body: graphError(368) });

    const error = await rejectionOf(client().updateCampaignStatus('1', 'ACTIVE'));

    expect(graph.requests).toHaveLength(1);
    expect(error).toMatchObject({ code: 'meta_throttled', retryable: true });
    expect(error.retryAfterMs).toBeGreaterThan(60_000);
  });

  it('retries with exponential backoff and then throws a retryable error', async () => {
    graph.always({ status: 503, body: graphError(2) });

    const error = await rejectionOf(
      client({ maxRetries: 3, retryBaseDelayMs: 1000 }).getCampaignSpendCents('1'),
    );

    expect(graph.requests).toHaveLength(4);
    // random() = 0 gives the lower edge of each jittered step: half of 1 s, 2 s, 4 s.
    expect(sleeps).toEqual([500, 1000, 2000]);
    expect(error).toMatchObject({
      code: 'meta_unavailable',
      retryable: true,
      graph: { code: 2, httpStatus: 503 },
    });
    expect(error.message).toContain('4 attempt(s)');
  });

  it('exhausts retries on throttling as a retryable meta_throttled', async () => {
    graph.always({ status: 400, body: graphError(613) });

    const error = await rejectionOf(client({ maxRetries: 2 }).updateCampaignStatus('1', 'ACTIVE'));

    expect(graph.requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(error).toMatchObject({ code: 'meta_throttled', retryable: true });
  });

  it('keeps every jittered wait within its exponential step', async () => {
    graph.always({ status: 500, body: graphError(1) });

    await rejectionOf(
      client({ maxRetries: 4, retryBaseDelayMs: 100, random: () => 0.5 }).getCampaignSpendCents('1'),
    );

    expect(sleeps).toEqual([75, 150, 300, 600]);
  });

  it('classifies a timeout as transient', async () => {
    graph.always('hang');

    const error = await rejectionOf(client({ timeoutMs: 100, maxRetries: 1 }).getCampaignSpendCents('1'));

    expect(graph.requests).toHaveLength(2);
    expect(error).toMatchObject({
      code: 'meta_unavailable',
      retryable: true,
      graph: { type: 'timeout', httpStatus: null },
    });
    expect(error.message).toContain('no response within 100 ms');
  });

  it('classifies a refused connection as transient', async () => {
    const closed = new FakeGraph();
    await closed.start();
    const deadUrl = closed.baseUrl;
    await closed.stop();

    const error = await rejectionOf(client({ baseUrl: deadUrl, maxRetries: 1 }).getCampaignSpendCents('1'));

    expect(sleeps).toHaveLength(1);
    expect(error).toMatchObject({ code: 'meta_unavailable', retryable: true, graph: { type: 'network' } });
  });
});

describe('MetaGraphClient createCampaign after an unanswered attempt', () => {
  it('adopts the campaign the timed-out POST created instead of creating a second one', async () => {
    graph.reply('hang', {
      status: 200,
      body: { data: [{ id: '120000000077', name: createInput.name, status: 'PAUSED' }] },
    });

    await expect(client({ timeoutMs: 100 }).createCampaign(createInput)).resolves.toEqual({
      id: '120000000077',
    });

    expect(graph.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v26.0/act_1234567890/campaigns',
      'GET /v26.0/act_1234567890/campaigns',
    ]);
    expect(logs.some((line) => line.msg.includes('adopting'))).toBe(true);
  });

  it('posts again when the lookup shows the first POST never landed', async () => {
    graph.reply(
      { status: 500, body: graphError(2) },
      { status: 200, body: { data: [] } },
      { status: 200, body: { id: '120000000078' } },
    );

    await expect(client().createCampaign(createInput)).resolves.toEqual({ id: '120000000078' });

    expect(graph.requests.map((r) => r.method)).toEqual(['POST', 'GET', 'POST']);
  });

  it('looks up after a 2xx it cannot read, since the campaign may exist', async () => {
    graph.reply(
      { status: 200, rawBody: 'not json' },
      { status: 200, body: { data: [{ id: '120000000079', name: createInput.name, status: 'PAUSED' }] } },
    );

    await expect(client().createCampaign(createInput)).resolves.toEqual({ id: '120000000079' });
  });

  it('re-posts a throttled create straight away: Meta refused it before doing anything', async () => {
    graph.reply({ status: 400, body: graphError(17) }, { status: 200, body: { id: '120000000080' } });

    await expect(client().createCampaign(createInput)).resolves.toEqual({ id: '120000000080' });

    expect(graph.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
  });
});

describe('MetaGraphClient construction', () => {
  it('names every missing setting', () => {
    expect(() => new MetaGraphClient({ baseUrl: '', accessToken: '', appSecret: 'x' })).toThrow(
      'MetaGraphClient is missing baseUrl, accessToken',
    );
  });

  it('refuses an API version Graph would not route', () => {
    expect(
      () => new MetaGraphClient({ baseUrl: 'http://x', accessToken: 't', appSecret: 's', apiVersion: '26' }),
    ).toThrow('apiVersion');
  });
});
