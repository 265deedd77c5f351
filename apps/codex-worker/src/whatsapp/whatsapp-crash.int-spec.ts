import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { EventEnvelope, MetaWebhookReceived, SUBSCRIPTIONS, WebhookReceivedData } from '@realapp/contracts';
import { destroyTopology, Topology } from '@realapp/messaging';
import { AMQP_URL, expectEventually, uniquePrefix } from '@realapp/testing';
import { Flow, InboundService } from '@realapp/whatsapp';
import { compileForTest, removeBuild, ServiceProcess, startServiceProcess } from '../testing/service-process.test-helper';
import { startWhatsAppWorkerStack, WhatsAppWorkerStack } from './testing/whatsapp-worker-stack';

jest.setTimeout(120_000);

const FLOW: Flow = { start: 'hello', nodes: [{ id: 'hello', message: 'Olá! Em que posso ajudar?', options: [] }] };

/**
 * SPEC §14 "answered once": a worker process is killed (SIGKILL) while Graph is still answering
 * its send. Another worker gets the message again from the broker and must not send it twice.
 */
describe('codex-worker killed mid-send (a real process)', () => {
  let stack: WhatsAppWorkerStack;
  let buildDir: string;
  let prefix: string;
  const children: ServiceProcess[] = [];

  const startChild = async (name: string): Promise<ServiceProcess> => {
    const child = await startServiceProcess(join(buildDir, 'apps/codex-worker/src/main.js'), {
      ...stack.env,
      AMQP_PREFIX: prefix,
      WORKER_ID: name,
      PORT: '0',
    });
    children.push(child);
    return child;
  };

  const queue = (): string => `${prefix}codex-worker.${MetaWebhookReceived.type}`;

  /** A child consumes once its queue exists and has a consumer. */
  const consuming = async (child: ServiceProcess): Promise<void> => {
    await expectEventually(
      async () => {
        const connection = await connect(AMQP_URL);
        try {
          const channel = await connection.createChannel();
          // checkQueue on a queue not declared yet closes the channel: expected while the child starts.
          channel.on('error', () => undefined);
          const { consumerCount } = await channel.checkQueue(queue());
          expect(consumerCount).toBeGreaterThan(0);
        } finally {
          await connection.close().catch(() => undefined);
        }
      },
      { timeoutMs: 30000, intervalMs: 250 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${child.output.join('\n')}`);
    });
  };

  /** Puts an envelope on the children's queue, as the gateway's relay would. */
  const publish = async (envelope: EventEnvelope<WebhookReceivedData>): Promise<void> => {
    const connection = await connect(AMQP_URL);
    try {
      const channel = await connection.createConfirmChannel();
      channel.sendToQueue(queue(), Buffer.from(JSON.stringify(envelope)), {
        messageId: envelope.id,
        persistent: true,
        contentType: 'application/json',
      });
      await channel.waitForConfirms();
    } finally {
      await connection.close();
    }
  };

  beforeAll(async () => {
    buildDir = compileForTest(['apps/codex-worker', 'libs']);
    // The in-process worker only prepares the data: it consumes on a prefix of its own.
    stack = await startWhatsAppWorkerStack();
    prefix = uniquePrefix();
  });

  afterAll(async () => {
    for (const child of children) await child.stop('SIGKILL');
    // The child worker declared its whole topology on this prefix: all of it goes, not just the queue under test.
    const connection = await connect(AMQP_URL);
    const channel = await connection.createChannel();
    await destroyTopology(channel, new Topology(prefix, 3, 1000, SUBSCRIPTIONS)).catch(() => undefined);
    await connection.close().catch(() => undefined);
    await stack?.close();
    if (buildDir) removeBuild(buildDir);
  });

  it('sends the reply once although the worker died while Graph was answering', async () => {
    const tenantId = randomUUID();
    const connection = await stack.connect(tenantId);
    await stack.publishFlow(tenantId, FLOW);
    const from = stack.sender();
    const payload = await stack.inboundPayload(connection.phoneNumberId as string, from, 'oi');
    const envelope: EventEnvelope<WebhookReceivedData> = {
      id: randomUUID(),
      type: MetaWebhookReceived.type,
      version: MetaWebhookReceived.version,
      occurredAt: new Date().toISOString(),
      correlationId: randomUUID(),
      causationId: null,
      tenantId,
      data: { webhookEventId: randomUUID(), provider: 'meta', providerEventId: `test:${randomUUID()}`, topic: 'messages', payload },
    };

    const doomed = await startChild('doomed-worker');
    await consuming(doomed);
    // Graph takes 4 s to answer the send: the worker is killed while waiting for it.
    await stack.sandboxCall('POST', '/_sandbox/faults', { provider: 'meta', delayMs: 4000, count: 1 });
    await publish(envelope);
    await expectEventually(async () => {
      const [reply] = (await stack.dataSource.query(
        `SELECT m.status FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
         WHERE c.sender = $1 AND m.direction = 'outbound'`,
        [from],
      )) as Array<{ status: string }>;
      expect(reply?.status).toBe('sending');
    });
    // The send reached Graph: the sandbox took the fault and is holding its answer.
    await expectEventually(async () => {
      const { items } = await stack.sandboxCall<{ items: unknown[] }>('GET', '/_sandbox/faults?provider=meta');
      expect(items).toEqual([]);
    });
    await doomed.stop('SIGKILL');

    // The broker hands the unacked message to the next worker; it finds the reply already handed to Graph.
    await consuming(await startChild('survivor-worker'));
    await expectEventually(async () => {
      const [done] = (await stack.dataSource.query(
        `SELECT count(*)::int AS n FROM messaging.inbox WHERE consumer = 'codex-worker.whatsapp.outcome' AND message_id = $1`,
        [envelope.id],
      )) as Array<{ n: number }>;
      expect(done.n).toBe(1);
    });
    // Graph did send it (after its delay), exactly once.
    await expectEventually(async () => expect(await stack.sentTo(from)).toHaveLength(1), { timeoutMs: 20000 });

    // Past the sending window the sweeper reports the reply as `unknown` rather than sending again.
    await stack.dataSource.query(
      `UPDATE whatsapp.messages SET updated_at = now() - interval '10 minutes' WHERE status = 'sending' AND conversation_id =
         (SELECT id FROM whatsapp.conversations WHERE sender = $1)`,
      [from],
    );
    await stack.worker.get(InboundService).sweep();
    const [reply] = (await stack.dataSource.query(
      `SELECT m.status FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
       WHERE c.sender = $1 AND m.direction = 'outbound'`,
      [from],
    )) as Array<{ status: string }>;
    expect(reply.status).toBe('unknown');
    expect((await stack.sentTo(from)).map((m) => m.text)).toEqual([FLOW.nodes[0].message]);
  });
});
