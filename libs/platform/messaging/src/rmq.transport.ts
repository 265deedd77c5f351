import { INestApplication, Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import { EventEnvelope, EVENTS } from '@realapp/contracts';
import { MetricsService, runWithContext } from '@realapp/platform';
import { AmqpConnection } from './amqp-connection';
import { ConsumeResult, failureResult } from './consume-result';
import { DeadLetterService } from './dead-letter.service';
import { declareConsumerQueues, declareTopology } from './declare-topology';
import { BATCH_EXTRA, messageContext } from './on-event.decorator';
import { Topology } from './topology';

export interface RmqTransportOptions {
  service: string;
  prefetch: number;
}

/**
 * A custom @nestjs/microservices transport on amqplib (docs/adr/0001-messaging.md says why not
 * the built-in RMQ transport): `@EventPattern('<event type>')` handlers get a validated envelope
 * and return a ConsumeResult; the message is acked only after the handler's transaction
 * committed, retried through TTL delay queues, and dead-lettered (queue + table) at the limit.
 */
/** Connects the consumer transport with the app's global filters, so handler errors keep their type. */
export async function startConsumers(app: INestApplication): Promise<void> {
  app.connectMicroservice({ strategy: app.get(RmqTransport) }, { inheritAppConfig: true });
  await app.startAllMicroservices();
}

export class RmqTransport extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger('rmq-transport');
  private readonly channels = new Set<Channel>();
  private readonly declaredQueues = new Set<string>();
  private closed = false;
  private inFlight = 0;
  private readonly handled;
  private readonly retries;
  private readonly deadLettered;

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly topology: Topology,
    private readonly deadLetters: DeadLetterService,
    private readonly options: RmqTransportOptions,
    metrics: MetricsService,
  ) {
    super();
    this.handled = metrics.counter('messages_consumed_total', 'Messages handled by outcome', [
      'type',
      'outcome',
    ]);
    this.retries = metrics.counter('message_retries_total', 'Messages scheduled for a retry', ['type']);
    this.deadLettered = metrics.counter('dead_letters_total', 'Messages dead-lettered', ['type']);
  }

  on(): never {
    throw new Error('RmqTransport does not emit events');
  }

  unwrap<T>(): T {
    return this.amqp as T;
  }

  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    const allowed = new Set(this.topology.subscriptions[this.options.service] ?? []);
    const unknown = [...this.messageHandlers.keys()].filter((pattern) => !allowed.has(pattern));
    if (unknown.length) {
      callback(
        new Error(
          `${this.options.service} handles ${unknown.join(', ')} but SUBSCRIPTIONS does not list them`,
        ),
      );
      return;
    }
    this.amqp.onConnected((model) => this.consumeAll(model));
    void this.amqp.start();
    callback();
  }

  private async consumeAll(model: ChannelModel): Promise<void> {
    try {
      const setup = await model.createChannel();
      await declareTopology(setup, this.topology);
      await setup.close();
      for (const pattern of this.messageHandlers.keys()) {
        const channel = await model.createChannel();
        this.channels.add(channel);
        channel.on('close', () => this.channels.delete(channel));
        channel.on('error', (error: Error) => this.logger.warn({ err: error }, 'consumer channel error'));
        const batch = this.batchSizeOf(pattern);
        // A batch consumer has a whole batch in hand, besides those in flight, when one of them
        // commits: with only the in-flight ones unacknowledged, the next batch was whatever the
        // broker had sent back in the meantime, often a handful (docs/performance.md).
        await channel.prefetch(
          batch === null ? this.options.prefetch : Math.max(this.options.prefetch, batch * (BATCHES_IN_FLIGHT + 1)),
        );
        for (const name of await declareConsumerQueues(
          channel,
          this.topology,
          this.options.service,
          pattern,
        )) {
          this.declaredQueues.add(name);
        }
        const queue = this.topology.queue(this.options.service, pattern);
        const collect =
          batch === null
            ? null
            : batchCollector(batch, (messages) =>
                // handleBatch settles or requeues every message itself; a throw here is a bug, not a message's fate.
                this.handleBatch(channel, queue, pattern, messages).catch((error: unknown) =>
                  this.logger.error(
                    { err: error, queue },
                    'batch handling failed; its messages return when the channel closes',
                  ),
                ),
              );
        await channel.consume(queue, (message) => {
          if (!message) return;
          if (collect) collect(message);
          else void this.handle(channel, queue, pattern, message);
        });
      }
      this.logger.log({ queues: [...this.messageHandlers.keys()] }, 'consuming');
    } catch (error) {
      this.logger.error({ err: error }, 'could not start consumers; they start again on reconnect');
    }
  }

  private batchSizeOf(pattern: string): number | null {
    const max = (this.messageHandlers.get(pattern)?.extras as Record<string, unknown> | undefined)?.[
      BATCH_EXTRA
    ];
    return typeof max === 'number' ? max : null;
  }

  private async handle(
    channel: Channel,
    queue: string,
    pattern: string,
    message: ConsumeMessage,
  ): Promise<void> {
    this.inFlight++;
    try {
      await this.settleOrRequeue(channel, queue, message, async () => {
        const decoded = this.decode(message);
        if (decoded.kind === 'invalid')
          return this.toDeadLetter(
            channel,
            queue,
            message,
            decoded.envelope,
            decoded.attempt,
            decoded.reason,
          );
        const { envelope, attempt } = decoded;
        const result = await runWithContext(messageContext(envelope), () => this.invoke(pattern, envelope));
        await this.settle(channel, queue, message, envelope, attempt, result);
      });
    } finally {
      this.inFlight--;
    }
  }

  /**
   * One read's worth of messages for a batch consumer: the invalid ones are dead-lettered as
   * usual, the rest go to the handler together and are settled one by one with its results.
   */
  private async handleBatch(
    channel: Channel,
    queue: string,
    pattern: string,
    messages: readonly ConsumeMessage[],
  ): Promise<void> {
    // Gathered before its channel closed: the broker has put these back already; handling them now
    // would only redo work that cannot be acked.
    if (!this.channels.has(channel)) return;
    this.inFlight += messages.length;
    try {
      const valid: Array<{ message: ConsumeMessage; envelope: EventEnvelope; attempt: number }> = [];
      for (const message of messages) {
        const decoded = this.decode(message);
        if (decoded.kind === 'valid') valid.push({ message, ...decoded });
        else
          await this.settleOrRequeue(channel, queue, message, () =>
            this.toDeadLetter(channel, queue, message, decoded.envelope, decoded.attempt, decoded.reason),
          );
      }
      if (valid.length === 0) return;
      const results = await this.invokeBatch(
        pattern,
        valid.map((item) => item.envelope),
      );
      for (const [i, { message, envelope, attempt }] of valid.entries()) {
        await this.settleOrRequeue(channel, queue, message, () =>
          this.settle(channel, queue, message, envelope, attempt, results[i]),
        );
      }
    } finally {
      this.inFlight -= messages.length;
    }
  }

  private decode(
    message: ConsumeMessage,
  ):
    | { kind: 'valid'; envelope: EventEnvelope; attempt: number }
    | { kind: 'invalid'; envelope: EventEnvelope | null; attempt: number; reason: string } {
    const attempt = Number(message.properties.headers?.['x-attempt'] ?? 1);
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.content.toString('utf8'));
    } catch {
      return { kind: 'invalid', envelope: null, attempt, reason: 'malformed JSON' };
    }
    const problems = EVENTS.envelopeProblems(parsed);
    if (problems.length) {
      const envelope = parsed && typeof parsed === 'object' ? (parsed as EventEnvelope) : null;
      return { kind: 'invalid', envelope, attempt, reason: `invalid event: ${problems.join('; ')}` };
    }
    return { kind: 'valid', envelope: parsed as EventEnvelope, attempt };
  }

  /**
   * Settling itself can fail (broker or database gone): the message is then left unacked and put
   * back a second later (or by the broker when this channel closes); the inbox keeps that
   * redelivery harmless.
   */
  private async settleOrRequeue(
    channel: Channel,
    queue: string,
    message: ConsumeMessage,
    settle: () => Promise<void>,
  ): Promise<void> {
    try {
      await settle();
    } catch (error) {
      this.logger.error({ err: error, queue }, 'could not settle message');
      const retry = setTimeout(() => {
        try {
          channel.nack(message, false, true);
        } catch {
          // the channel is gone; the broker has requeued the message already
        }
      }, 1000);
      retry.unref();
    }
  }

  private async invoke(pattern: string, envelope: EventEnvelope): Promise<ConsumeResult> {
    const handler = this.messageHandlers.get(pattern);
    if (!handler) return { kind: 'dead_letter', reason: `no handler for ${pattern}` };
    try {
      const output = await lastValueFrom(this.transformToObservable(await handler(envelope)), {
        defaultValue: undefined,
      });
      return (output as ConsumeResult | undefined) ?? { kind: 'ack' };
    } catch (error) {
      this.logger.warn({ err: error, type: envelope.type, messageId: envelope.id }, 'handler failed');
      return failureResult(error);
    }
  }

  private async invokeBatch(pattern: string, envelopes: readonly EventEnvelope[]): Promise<ConsumeResult[]> {
    const handler = this.messageHandlers.get(pattern);
    if (!handler) return envelopes.map(() => ({ kind: 'dead_letter', reason: `no handler for ${pattern}` }));
    try {
      // Per-message context is the handler's to set (messageContext); the batch has its own correlation id.
      const output = await runWithContext({ correlationId: randomUUID() }, async () =>
        lastValueFrom(this.transformToObservable(await handler(envelopes)), { defaultValue: undefined }),
      );
      if (Array.isArray(output) && output.length === envelopes.length) return output as ConsumeResult[];
      const reason = `batch handler for ${pattern} answered ${Array.isArray(output) ? output.length : 'no'} results for ${envelopes.length} messages`;
      this.logger.error({ pattern }, reason);
      return envelopes.map(() => ({ kind: 'retry', reason }));
    } catch (error) {
      this.logger.warn({ err: error, pattern, messages: envelopes.length }, 'batch handler failed');
      const result = failureResult(error);
      return envelopes.map(() => result);
    }
  }

  private async settle(
    channel: Channel,
    queue: string,
    message: ConsumeMessage,
    envelope: EventEnvelope,
    attempt: number,
    result: ConsumeResult,
  ): Promise<void> {
    switch (result.kind) {
      case 'ack':
        this.handled.inc({ type: envelope.type, outcome: 'ack' });
        channel.ack(message);
        return;
      case 'retry':
        if (attempt >= this.topology.attempts) {
          return this.toDeadLetter(channel, queue, message, envelope, attempt, result.reason);
        }
        await this.publishToQueue(this.topology.retryQueue(queue, attempt), message, {
          'x-attempt': attempt + 1,
          'x-last-error': result.reason.slice(0, 500),
        });
        this.retries.inc({ type: envelope.type });
        this.handled.inc({ type: envelope.type, outcome: 'retry' });
        channel.ack(message);
        return;
      case 'dead_letter':
        return this.toDeadLetter(channel, queue, message, envelope, attempt, result.reason);
    }
  }

  private async toDeadLetter(
    channel: Channel,
    queue: string,
    message: ConsumeMessage,
    envelope: EventEnvelope | null,
    attempts: number,
    reason: string,
  ): Promise<void> {
    await this.deadLetters.record(queue, message.content, envelope, attempts, reason);
    await this.publishToQueue(this.topology.deadLetterQueue(queue), message, {
      'x-attempt': attempts,
      'x-last-error': reason.slice(0, 500),
    });
    this.deadLettered.inc({ type: envelope?.type ?? 'unknown' });
    this.handled.inc({ type: envelope?.type ?? 'unknown', outcome: 'dead_letter' });
    this.logger.error(
      { queue, messageId: envelope?.id, type: envelope?.type, attempts, reason },
      'message dead-lettered',
    );
    channel.ack(message);
  }

  /** Republishes with confirms before the original is acked, so a crash in between duplicates, never loses. */
  private async publishToQueue(
    target: string,
    message: ConsumeMessage,
    headers: Record<string, unknown>,
  ): Promise<void> {
    const confirm = await this.amqp.confirmChannel();
    confirm.sendToQueue(target, message.content, {
      ...message.properties,
      persistent: true,
      headers: { ...message.properties.headers, ...headers },
    });
    await confirm.waitForConfirms();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const channel of this.channels) await channel.close().catch(() => undefined);
    this.channels.clear();
    const deadline = Date.now() + 5000;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Tests remove their own queues when they finish, so reruns start clean. */
  async deleteTopology(): Promise<void> {
    const channel = await this.amqp.channel();
    for (const queue of this.declaredQueues) await channel.deleteQueue(queue).catch(() => undefined);
    await channel.close().catch(() => undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

/**
 * How many batches of one consumer are handled at once. While they are, new deliveries gather and
 * go together in the next one: batches grow with the load, and nothing waits for one to fill.
 */
const BATCHES_IN_FLIGHT = 2;

/**
 * Gathers deliveries into batches for `handle`: what arrived in one read (amqplib hands the
 * messages of a read over synchronously, one after another), or everything that arrived while
 * BATCHES_IN_FLIGHT batches were being handled, up to `max` each.
 */
function batchCollector(
  max: number,
  handle: (messages: ConsumeMessage[]) => Promise<void>,
): (message: ConsumeMessage) => void {
  let pending: ConsumeMessage[] = [];
  let inFlight = 0;
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    while (inFlight < BATCHES_IN_FLIGHT && pending.length > 0) {
      const batch = pending.slice(0, max);
      pending = pending.slice(batch.length);
      inFlight++;
      void handle(batch).finally(() => {
        inFlight--;
        schedule();
      });
    }
  };
  const schedule = (): void => {
    if (scheduled || pending.length === 0 || inFlight >= BATCHES_IN_FLIGHT) return;
    scheduled = true;
    setImmediate(drain);
  };
  return (message) => {
    pending.push(message);
    schedule();
  };
}
