import { randomUUID } from 'node:crypto';
import { expectEventually } from '@realapp/testing';
import {
  ConnectionsService,
  conversationStateKey,
  counterKeys,
  Flow,
  InboundService,
  NightlyCleanupService,
  TokenCipher,
} from '@realapp/whatsapp';
import { startWhatsAppWorkerStack, WhatsAppWorkerStack } from './testing/whatsapp-worker-stack';

const MENU: Flow = {
  start: 'welcome',
  nodes: [
    {
      id: 'welcome',
      message: 'Olá! 1) Comprar 2) Alugar',
      options: [
        { match: 'comprar', next: 'buy' },
        { match: 'alugar', next: 'rent' },
      ],
    },
    {
      id: 'buy',
      message: 'Em qual bairro? 1) Centro 2) Voltar',
      options: [
        { match: 'centro', next: 'agent' },
        { match: 'voltar', next: 'welcome' },
      ],
    },
    { id: 'rent', message: 'Quantos quartos?', options: [{ match: 'voltar', next: 'welcome' }] },
    { id: 'agent', message: 'Um corretor vai falar com você.', options: [] },
  ],
};

const AI_LIMITS = { perTenantPerDay: 3, perSenderPerMinute: 2 };

// Sends through Meta outages and AI timeouts take seconds by design.
jest.setTimeout(60_000);

describe('codex-worker WhatsApp channel (SPEC §14) on the real stack', () => {
  let stack: WhatsAppWorkerStack;

  /** A tenant with a live connection and the menu published. */
  const aConnectedTenant = async (flow: Flow | null = MENU) => {
    const tenantId = randomUUID();
    const connection = await stack.connect(tenantId);
    if (flow !== null) await stack.publishFlow(tenantId, flow);
    return { tenantId, connection, phoneNumberId: connection.phoneNumberId as string };
  };
  const say = async (phoneNumberId: string, from: string, text: string): Promise<void> => {
    await stack.deliver(await stack.inboundPayload(phoneNumberId, from, text));
  };
  const rows = <T>(sql: string, params: unknown[]): Promise<T[]> => stack.dataSource.query(sql, params) as Promise<T[]>;
  const connectionRow = async (id: string) =>
    (await rows<{ status: string; tenant_id: string | null; token_key_id: string | null }>(`SELECT * FROM whatsapp.connections WHERE id = $1`, [id]))[0];
  const metrics = async (): Promise<string> => (await fetch(`${await stack.worker.getUrl()}/metrics`)).text();

  beforeAll(async () => {
    stack = await startWhatsAppWorkerStack({
      OPENAI_API_KEY: 'sk-test-whatsapp-worker-suite',
      OPENAI_TIMEOUT_SECONDS: '2',
      OPENAI_MAX_CALLS_PER_TENANT_PER_DAY: String(AI_LIMITS.perTenantPerDay),
      OPENAI_MAX_CALLS_PER_SENDER_PER_MINUTE: String(AI_LIMITS.perSenderPerMinute),
    });
  });

  afterEach(async () => {
    await stack.sandboxCall('DELETE', '/_sandbox/faults');
  });

  afterAll(async () => {
    await stack?.close();
  });

  describe('inbound messages → replies', () => {
    it('answers a message delivered 5× concurrently exactly once, and 5 more broker redeliveries change nothing', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      const payload = await stack.inboundPayload(phoneNumberId, from, 'oi');
      const envelopes = await stack.deliver(payload, { copies: 5 });
      expect(await stack.expectSent(from, 1)).toEqual([MENU.nodes[0].message]);
      await stack.redeliver(envelopes[0], 5);
      await stack.deliver(payload, { copies: 2 });
      await expectEventually(async () => {
        const [inbox] = await rows<{ n: number }>(
          `SELECT count(*)::int AS n FROM messaging.inbox WHERE consumer = 'codex-worker.whatsapp.outcome' AND message_id = ANY($1::uuid[])`,
          [envelopes.map((e) => e.id)],
        );
        expect(inbox.n).toBe(5);
      });
      expect(await stack.expectSent(from, 1)).toHaveLength(1);
      const [stored] = await rows<{ inbound: number; outbound: number }>(
        `SELECT count(*) FILTER (WHERE direction = 'inbound')::int AS inbound, count(*) FILTER (WHERE direction = 'outbound')::int AS outbound
         FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id WHERE c.sender = $1`,
        [from],
      );
      expect(stored).toEqual({ inbound: 1, outbound: 1 });
    });

    it('walks a menu conversation across several messages (keywords in any case, option numbers)', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      const steps: Array<[string, string]> = [
        ['bom dia', MENU.nodes[0].message],
        ['COMPRAR', MENU.nodes[1].message],
        ['2', MENU.nodes[0].message],
        [' Alugar ', MENU.nodes[2].message],
        ['voltar', MENU.nodes[0].message],
        ['1', MENU.nodes[1].message],
        ['centro', MENU.nodes[3].message],
      ];
      for (const [index, [text]] of steps.entries()) {
        await say(phoneNumberId, from, text);
        await stack.expectSent(from, index + 1);
      }
      expect(await stack.expectSent(from, steps.length)).toEqual(steps.map(([, reply]) => reply));

      // The state lives in Redis, with the database as the source of truth.
      const [conversation] = await rows<{ id: string; current_node_id: string; state_version: string }>(
        `SELECT id, current_node_id, state_version FROM whatsapp.conversations WHERE sender = $1`,
        [from],
      );
      expect(conversation.current_node_id).toBe('agent');
      const cached = JSON.parse((await stack.redis.get(conversationStateKey(conversation.id))) ?? 'null') as { nodeId: string; version: number };
      expect(cached).toMatchObject({ nodeId: 'agent', version: Number(conversation.state_version) });
    });

    it('continues from the database when the cached state is gone', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      await say(phoneNumberId, from, 'oi');
      await stack.expectSent(from, 1);
      await say(phoneNumberId, from, 'comprar');
      await stack.expectSent(from, 2);
      const [conversation] = await rows<{ id: string }>(`SELECT id FROM whatsapp.conversations WHERE sender = $1`, [from]);
      await stack.redis.del(conversationStateKey(conversation.id));
      await say(phoneNumberId, from, 'voltar');
      expect(await stack.expectSent(from, 3)).toEqual([MENU.nodes[0].message, MENU.nodes[1].message, MENU.nodes[0].message]);
    });

    it('sends nothing without a published flow but keeps the message; once published the next message is answered', async () => {
      const { tenantId, phoneNumberId } = await aConnectedTenant(null);
      const from = stack.sender();
      await say(phoneNumberId, from, 'tem alguém aí?');
      await expectEventually(async () => {
        const kept = await rows<{ text: string; status: string }>(
          `SELECT m.text, m.status FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id WHERE c.sender = $1`,
          [from],
        );
        expect(kept).toEqual([{ text: 'tem alguém aí?', status: 'processed' }]);
      });
      expect(await stack.sentTo(from)).toEqual([]);
      await stack.publishFlow(tenantId, MENU);
      await say(phoneNumberId, from, 'oi');
      expect(await stack.expectSent(from, 1)).toEqual([MENU.nodes[0].message]);
    });

    it('answers the next message with a newly published flow version', async () => {
      const { tenantId, phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      await say(phoneNumberId, from, 'oi');
      await stack.expectSent(from, 1);
      const v2: Flow = {
        ...MENU,
        nodes: MENU.nodes.map((node) => (node.id === 'buy' ? { ...node, message: 'Versão 2: em qual bairro?' } : node)),
      };
      await stack.publishFlow(tenantId, v2);
      await say(phoneNumberId, from, 'comprar');
      expect(await stack.expectSent(from, 2)).toEqual([MENU.nodes[0].message, 'Versão 2: em qual bairro?']);
    });

    it('retries a send Meta failed transiently and still sends once', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', status: 500, count: 2 });
      await say(phoneNumberId, from, 'oi');
      expect(await stack.expectSent(from, 1)).toEqual([MENU.nodes[0].message]);
    });

    it('keeps retrying through a Meta outage (message retries, then the sweeper) and sends once', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      // More failures than one message's in-process retries and broker attempts can absorb.
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', status: 503, count: 12 });
      await say(phoneNumberId, from, 'oi');
      await expectEventually(
        async () => {
          const [reply] = await rows<{ status: string; attempts: number }>(
            `SELECT m.status, m.attempts FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
             WHERE c.sender = $1 AND m.direction = 'outbound'`,
            [from],
          );
          expect(reply.status).toBe('pending');
          expect(reply.attempts).toBe(Number(stack.env.MESSAGE_MAX_ATTEMPTS ?? 3));
        },
        { timeoutMs: 30000 },
      );
      await stack.sandboxCall('DELETE', '/_sandbox/faults');
      await stack.dataSource.query(
        `UPDATE whatsapp.messages SET updated_at = now() - interval '1 minute' WHERE status = 'pending' AND direction = 'outbound'`,
      );
      await stack.worker.get(InboundService).sweep();
      expect(await stack.expectSent(from, 1)).toEqual([MENU.nodes[0].message]);
    });

    it('does not send a reply twice whose send was interrupted (sending), and reports it as unknown', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      const payload = await stack.inboundPayload(phoneNumberId, from, 'oi');
      // A worker died after handing the reply to Graph and before recording the answer.
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', delayMs: 6000, count: 1 });
      const [envelope] = await stack.deliver(payload);
      await expectEventually(async () => {
        const [reply] = await rows<{ status: string }>(
          `SELECT m.status FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
           WHERE c.sender = $1 AND m.direction = 'outbound'`,
          [from],
        );
        expect(reply.status).toBe('unknown');
      });
      await stack.redeliver(envelope, 3);
      await stack.deliver(payload, { copies: 2 });
      await stack.worker.get(InboundService).sweep();
      // The sandbox recorded the slow send once it answered; nothing was sent after it.
      expect(await stack.expectSent(from, 1)).toEqual([MENU.nodes[0].message]);
    });

    it('sends a reply whose intent was recorded but never sent when the message comes again', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      const payload = await stack.inboundPayload(phoneNumberId, from, 'oi');
      // Meta refuses the first attempt outright: the intent stays, as after a crash before the send.
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', status: 503, count: 40 });
      const [envelope] = await stack.deliver(payload);
      await expectEventually(async () => {
        const [reply] = await rows<{ status: string; attempts: number }>(
          `SELECT m.status, m.attempts FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
           WHERE c.sender = $1 AND m.direction = 'outbound'`,
          [from],
        );
        expect(reply).toMatchObject({ status: 'pending' });
        expect(reply.attempts).toBeGreaterThanOrEqual(1);
      });
      await stack.sandboxCall('DELETE', '/_sandbox/faults');
      await stack.redeliver(envelope, 3);
      expect(await stack.expectSent(from, 1)).toEqual([MENU.nodes[0].message]);
    });

    it('marks the connection token_invalid when Meta refuses its token on a send, with an incident', async () => {
      const { connection, phoneNumberId } = await aConnectedTenant();
      const token = await stack.storedToken(connection.id);
      await stack.sandboxCall('POST', `/_sandbox/meta/tokens/${token}`, { isValid: false });
      const from = stack.sender();
      await say(phoneNumberId, from, 'oi');
      await expectEventually(async () => expect((await connectionRow(connection.id)).status).toBe('token_invalid'));
      const [reply] = await rows<{ status: string }>(
        `SELECT m.status FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
         WHERE c.sender = $1 AND m.direction = 'outbound'`,
        [from],
      );
      expect(reply.status).toBe('failed');
      expect(await stack.sentTo(from)).toEqual([]);
      await expectEventually(async () => {
        const incidents = await rows<{ code: string }>(`SELECT code FROM ops.incidents WHERE place = $1`, [`whatsapp:connection:${connection.id}`]);
        expect(incidents.map((i) => i.code)).toEqual(['whatsapp_token_invalid']);
      });
    });

    it('stores nothing for a number no tenant has, and says why', async () => {
      const from = stack.sender();
      const [envelope] = await stack.deliver(await stack.inboundPayload('999000111222', from, 'oi'));
      await expectEventually(async () => {
        const [done] = await rows<{ n: number }>(
          `SELECT count(*)::int AS n FROM messaging.inbox WHERE consumer = 'codex-worker.whatsapp.outcome' AND message_id = $1`,
          [envelope.id],
        );
        expect(done.n).toBe(1);
      });
      expect(await rows(`SELECT 1 FROM whatsapp.conversations WHERE sender = $1`, [from])).toEqual([]);
    });
  });

  describe('AI replies (OPENAI_API_KEY set) and their guardrails', () => {
    it('answers a message no option matches with the AI, and a matching one with the flow', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      await say(phoneNumberId, from, 'oi');
      await stack.expectSent(from, 1);
      await say(phoneNumberId, from, 'qual o horário de vocês?');
      await stack.expectSent(from, 2);
      await say(phoneNumberId, from, 'comprar');
      expect(await stack.expectSent(from, 3)).toEqual([
        MENU.nodes[0].message,
        'Sandbox AI: you said "qual o horário de vocês?"',
        MENU.nodes[1].message,
      ]);
      const [chat] = (await stack.sandboxCall<{ items: Array<{ body: { model: string; messages: Array<{ role: string }> } }> }>(
        'GET',
        '/_sandbox/requests?provider=openai&limit=50',
      )).items.filter((r) => JSON.stringify(r.body).includes('qual o horário'));
      expect(chat.body.model).toBe('gpt-4o-mini');
      expect(chat.body.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    });

    it('falls back to the flow past the per-tenant daily limit', async () => {
      const { phoneNumberId } = await aConnectedTenant({ ...MENU, fallbackMessage: 'Escolha uma opção do menu, por favor.' });
      const senders = Array.from({ length: AI_LIMITS.perTenantPerDay + 1 }, () => stack.sender());
      const replies: string[] = [];
      for (const from of senders) {
        await say(phoneNumberId, from, 'oi');
        await stack.expectSent(from, 1);
        await say(phoneNumberId, from, 'quanto custa?');
        replies.push((await stack.expectSent(from, 2))[1]);
      }
      expect(replies).toEqual([
        ...Array.from({ length: AI_LIMITS.perTenantPerDay }, () => 'Sandbox AI: you said "quanto custa?"'),
        'Escolha uma opção do menu, por favor.',
      ]);
      expect(await metrics()).toMatch(/whatsapp_ai_calls_total\{outcome="tenant_daily_limit"\} [1-9]/);
    });

    it('falls back past the per-sender per-minute limit', async () => {
      const { tenantId, phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      await say(phoneNumberId, from, 'oi');
      await stack.expectSent(from, 1);
      // The sender's budget for this minute is already spent (the counter the worker keeps in Redis).
      const { senderKey } = counterKeys(tenantId, from, new Date());
      await stack.redis.set(senderKey, String(AI_LIMITS.perSenderPerMinute), 'EX', 120);
      await say(phoneNumberId, from, 'quanto custa?');
      // No fallbackMessage in the flow: the node's message is sent again (SPEC §16).
      expect((await stack.expectSent(from, 2))[1]).toBe(MENU.nodes[0].message);
    });

    it('counts a sender within the minute and falls back at the limit', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const from = stack.sender();
      await say(phoneNumberId, from, 'oi');
      await stack.expectSent(from, 1);
      const texts = ['a?', 'b?', 'c?'];
      for (const [index, text] of texts.entries()) {
        await say(phoneNumberId, from, text);
        await stack.expectSent(from, index + 2);
      }
      const replies = (await stack.expectSent(from, 4)).slice(1);
      // Two AI answers, then the fallback; unless the UTC minute turned between them (then all three are AI).
      const ai = replies.filter((reply) => reply.startsWith('Sandbox AI'));
      expect(ai.length).toBeGreaterThanOrEqual(AI_LIMITS.perSenderPerMinute);
      if (ai.length === AI_LIMITS.perSenderPerMinute) expect(replies[2]).toBe(MENU.nodes[0].message);
    });

    it('falls back when the AI times out or is out of quota', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const slow = stack.sender();
      await say(phoneNumberId, slow, 'oi');
      await stack.expectSent(slow, 1);
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'openai', delayMs: 4000, count: 1 });
      await say(phoneNumberId, slow, 'você está aí?');
      expect((await stack.expectSent(slow, 2))[1]).toBe(MENU.nodes[0].message);

      const broke = stack.sender();
      await say(phoneNumberId, broke, 'oi');
      await stack.expectSent(broke, 1);
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'openai', status: 429, errorCode: 'insufficient_quota', count: 1 });
      await say(phoneNumberId, broke, 'e agora?');
      expect((await stack.expectSent(broke, 2))[1]).toBe(MENU.nodes[0].message);
    });
  });

  describe('partner events (SPEC §14 cases), idempotent in any order', () => {
    const connectionsOf = (wabaId: string) =>
      rows<{ id: string; tenant_id: string | null; status: string; orphaned_at: Date | null }>(
        `SELECT id, tenant_id, status, orphaned_at FROM whatsapp.connections WHERE waba_id = $1`,
        [wabaId],
      );
    const partnerEvent = async (wabaId: string, businessId: string, copies = 1): Promise<void> => {
      const envelopes = await stack.deliver(await stack.partnerPayload(wabaId, businessId), { copies });
      await expectEventually(async () => {
        const [done] = await rows<{ n: number }>(
          `SELECT count(*)::int AS n FROM messaging.inbox WHERE consumer = 'codex-worker.whatsapp.outcome' AND message_id = ANY($1::uuid[])`,
          [envelopes.map((e) => e.id)],
        );
        expect(done.n).toBe(copies);
      });
    };

    it('case 1, completion first: the event for the WABA of a signup changes nothing, however often it comes', async () => {
      const tenantId = randomUUID();
      const ids = stack.ids();
      const connection = await stack.connect(tenantId, ids);
      await partnerEvent(ids.wabaId, ids.businessId, 5);
      expect(await connectionsOf(ids.wabaId)).toEqual([expect.objectContaining({ id: connection.id, tenant_id: tenantId, status: 'active', orphaned_at: null })]);
    });

    it('case 1, event first: the orphan waits, and the completion naming the WABA attaches it', async () => {
      const tenantId = randomUUID();
      const ids = stack.ids();
      await partnerEvent(ids.wabaId, '999999999999', 3);
      const [orphan] = await connectionsOf(ids.wabaId);
      expect(orphan.tenant_id).toBeNull();
      const connection = await stack.connect(tenantId, ids, null);
      expect(connection.id).toBe(orphan.id);
      expect(await connectionsOf(ids.wabaId)).toEqual([expect.objectContaining({ id: orphan.id, tenant_id: tenantId, status: 'active' })]);
      await partnerEvent(ids.wabaId, '999999999999');
      expect((await connectionsOf(ids.wabaId))[0].tenant_id).toBe(tenantId);
    });

    it('case 2, signup first: a WABA of the business a tenant signed up with goes to that tenant', async () => {
      const tenantId = randomUUID();
      const signup = stack.ids();
      await stack.connect(tenantId, signup);
      const second = stack.ids();
      await partnerEvent(second.wabaId, signup.businessId, 3);
      expect(await connectionsOf(second.wabaId)).toEqual([expect.objectContaining({ tenant_id: tenantId, status: 'token_invalid', orphaned_at: null })]);
    });

    it('case 2, event first: the orphan goes to the tenant whose signup names its business', async () => {
      const tenantId = randomUUID();
      const signup = stack.ids();
      const second = stack.ids();
      await partnerEvent(second.wabaId, signup.businessId);
      expect((await connectionsOf(second.wabaId))[0].tenant_id).toBeNull();
      await stack.connect(tenantId, signup);
      expect(await connectionsOf(second.wabaId)).toEqual([expect.objectContaining({ tenant_id: tenantId })]);
      await partnerEvent(second.wabaId, signup.businessId);
      expect(await connectionsOf(second.wabaId)).toEqual([expect.objectContaining({ tenant_id: tenantId })]);
    });

    it('case 2 is left to ops when two tenants know the business', async () => {
      const shared = stack.ids().businessId;
      await stack.connect(randomUUID(), stack.ids(), shared);
      await stack.connect(randomUUID(), stack.ids(), shared);
      const waba = stack.ids().wabaId;
      await partnerEvent(waba, shared);
      expect((await connectionsOf(waba))[0].tenant_id).toBeNull();
    });

    it('case 3: an orphan for ops, one per WABA however many deliveries arrive at once, and a claim sticks', async () => {
      const ids = stack.ids();
      await partnerEvent(ids.wabaId, ids.businessId, 5);
      const [orphan, ...others] = await connectionsOf(ids.wabaId);
      expect(others).toEqual([]);
      expect(orphan).toMatchObject({ tenant_id: null, orphaned_at: expect.any(Date) });
      const tenantId = randomUUID();
      await stack.worker.get(ConnectionsService).claimOrphan(orphan.id, tenantId);
      await partnerEvent(ids.wabaId, ids.businessId, 2);
      expect(await connectionsOf(ids.wabaId)).toEqual([expect.objectContaining({ id: orphan.id, tenant_id: tenantId })]);
    });
  });

  describe('jobs', () => {
    it('token health: < 7 days → token_expiring, invalid → token_invalid, each with an incident and a metric', async () => {
      const expiring = await aConnectedTenant(null);
      const invalid = await aConnectedTenant(null);
      const fine = await aConnectedTenant(null);
      await stack.sandboxCall('POST', `/_sandbox/meta/tokens/${await stack.storedToken(expiring.connection.id)}`, {
        expiresAt: Math.floor(Date.now() / 1000) + 2 * 86_400,
      });
      await stack.sandboxCall('POST', `/_sandbox/meta/tokens/${await stack.storedToken(invalid.connection.id)}`, { isValid: false });

      const summary = await stack.worker.get(ConnectionsService).runTokenHealthCheck();
      expect(summary).toMatchObject({ errors: 0 });
      expect(summary?.expiring).toBeGreaterThanOrEqual(1);
      expect(summary?.invalid).toBeGreaterThanOrEqual(1);
      expect((await connectionRow(expiring.connection.id)).status).toBe('token_expiring');
      expect((await connectionRow(invalid.connection.id)).status).toBe('token_invalid');
      expect((await connectionRow(fine.connection.id)).status).toBe('active');

      const incidents = await rows<{ code: string; place: string; level: string }>(
        `SELECT code, place, level FROM ops.incidents WHERE place = ANY($1::text[]) AND status = 'open' ORDER BY code`,
        [[expiring, invalid, fine].map((t) => `whatsapp:connection:${t.connection.id}`)],
      );
      expect(incidents).toEqual([
        { code: 'whatsapp_token_expiring', place: `whatsapp:connection:${expiring.connection.id}`, level: 'L1' },
        { code: 'whatsapp_token_invalid', place: `whatsapp:connection:${invalid.connection.id}`, level: 'L1' },
      ]);
      const scraped = await metrics();
      expect(scraped).toMatch(/whatsapp_token_problems_total\{status="token_expiring",source="job"\} [1-9]/);
      expect(scraped).toMatch(/whatsapp_token_problems_total\{status="token_invalid",source="job"\} [1-9]/);
      expect(scraped).toMatch(/whatsapp_token_problem_connections\{status="token_expiring"\} [1-9]/);
    });

    it('runs once across replicas (advisory lock)', async () => {
      await aConnectedTenant(null);
      // Meta answers slowly, so the run holding the lock is still running when the others try.
      await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', delayMs: 1500, count: 1 });
      const connections = stack.worker.get(ConnectionsService);
      const results = await Promise.all([connections.runTokenHealthCheck(), connections.runTokenHealthCheck(), connections.runTokenHealthCheck()]);
      expect(results.filter((r) => r !== null)).toHaveLength(1);
    });

    it('nightly cleanup: state idle for 24 h is cleared in the database and Redis; the next message starts over', async () => {
      const { phoneNumberId } = await aConnectedTenant();
      const idle = stack.sender();
      const active = stack.sender();
      for (const from of [idle, active]) {
        await say(phoneNumberId, from, 'oi');
        await stack.expectSent(from, 1);
        await say(phoneNumberId, from, 'comprar');
        await stack.expectSent(from, 2);
      }
      const [conversation] = await rows<{ id: string }>(`SELECT id FROM whatsapp.conversations WHERE sender = $1`, [idle]);
      await stack.dataSource.query(`UPDATE whatsapp.conversations SET last_message_at = now() - interval '25 hours' WHERE id = $1`, [conversation.id]);
      expect(await stack.redis.get(conversationStateKey(conversation.id))).not.toBeNull();

      const summary = await stack.worker.get(NightlyCleanupService).run();
      expect(summary?.clearedConversations).toBeGreaterThanOrEqual(1);
      const states = await rows<{ sender: string; current_node_id: string | null }>(
        `SELECT sender, current_node_id FROM whatsapp.conversations WHERE sender = ANY($1::text[]) ORDER BY sender`,
        [[idle, active]],
      );
      expect(Object.fromEntries(states.map((s) => [s.sender, s.current_node_id]))).toEqual({ [idle]: null, [active]: 'buy' });
      expect(await stack.redis.get(conversationStateKey(conversation.id))).toBeNull();
      // The messages themselves stay: they are the tenant's history.
      expect(await rows(`SELECT 1 FROM whatsapp.messages WHERE conversation_id = $1`, [conversation.id])).toHaveLength(4);

      await say(phoneNumberId, idle, 'voltar');
      expect((await stack.expectSent(idle, 3))[2]).toBe(MENU.nodes[0].message);
    });

    it('key rotation: a worker deployed with "new,old" re-encrypts every token; afterwards the new key alone works', async () => {
      const { connection, phoneNumberId } = await aConnectedTenant();
      const token = await stack.storedToken(connection.id);
      const oldKeyId = (await connectionRow(connection.id)).token_key_id;
      const newKey = TokenCipher.generateKeyHex();

      // Step 2 of docs/whatsapp.md: deploy with the new key first; the start-up pass re-encrypts.
      await stack.replaceWorker({ TOKEN_ENCRYPTION_KEY: `${newKey},${stack.encryptionKey}` });
      await expectEventually(async () => expect((await connectionRow(connection.id)).token_key_id).not.toBe(oldKeyId));
      expect(await stack.worker.get(ConnectionsService).resealTokens()).toMatchObject({ remaining: 0, failed: 0 });
      expect(await stack.storedToken(connection.id, newKey)).toBe(token);
      await expect(stack.storedToken(connection.id, stack.encryptionKey)).rejects.toThrow();

      // Step 4: the old key is dropped; replies are still sent with the re-encrypted token.
      await stack.replaceWorker({ TOKEN_ENCRYPTION_KEY: newKey });
      const from = stack.sender();
      await say(phoneNumberId, from, 'oi');
      expect(await stack.expectSent(from, 1)).toEqual([MENU.nodes[0].message]);
    });
  });
});
