import { connect, ChannelModel } from 'amqplib';
import { Socket } from 'node:net';
import { AMQP_URL, uniquePrefix } from '@realapp/testing';
import { coalesceFrameWrites } from './frame-coalescing';

/** Counts the writes that reach the socket (one system call each, a `writev` for corked chunks). */
function countSocketWrites(model: ChannelModel): { count: number } {
  const socket = (model as unknown as { connection: { stream: Socket } }).connection.stream;
  const counter = { count: 0 };
  const internals = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const method of ['_write', '_writev'] as const) {
    const original = internals[method].bind(socket);
    internals[method] = (...args: unknown[]) => {
      counter.count++;
      original(...args);
    };
  }
  return counter;
}

/** Publishes `count` messages in one turn of the event loop and answers how many socket writes that took. */
async function publishBurst(model: ChannelModel, queue: string, count: number): Promise<number> {
  const channel = await model.createConfirmChannel();
  await channel.assertQueue(queue, { durable: false, autoDelete: false });
  const writes = countSocketWrites(model);
  for (let i = 0; i < count; i++) channel.sendToQueue(queue, Buffer.from(String(i)));
  await channel.waitForConfirms();
  const sent = writes.count;
  const { messageCount } = await channel.checkQueue(queue);
  expect(messageCount).toBe(count);
  // Order is kept: the first and the last message are where they were published.
  expect((await channel.get(queue, { noAck: true })) || null).toMatchObject({ content: Buffer.from('0') });
  await channel.deleteQueue(queue);
  await channel.close();
  return sent;
}

describe('amqplib frame coalescing', () => {
  const models: ChannelModel[] = [];
  afterAll(async () => {
    for (const model of models) await model.close().catch(() => undefined);
  });

  it('sends a burst of publishes in a few socket writes instead of one per frame', async () => {
    const plain = await connect(AMQP_URL);
    const coalesced = await connect(AMQP_URL);
    models.push(plain, coalesced);
    expect(coalesceFrameWrites(coalesced)).toBe(true);

    const perFrame = await publishBurst(plain, `${uniquePrefix()}coalescing.plain`, 200);
    const together = await publishBurst(coalesced, `${uniquePrefix()}coalescing.corked`, 200);
    // amqplib on its own: a write per frame (this is what the patch exists for; if amqplib ever
    // batches by itself, this fails and the patch can go).
    expect(perFrame).toBeGreaterThanOrEqual(200);
    expect(together).toBeLessThanOrEqual(10);
  });
});
