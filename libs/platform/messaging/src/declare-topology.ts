import { Channel } from 'amqplib';
import { Topology } from './topology';

/** Declares the exchange, the unroutable catch-all and, for each (service, type), its queues. */
export async function declareTopology(channel: Channel, topology: Topology): Promise<string[]> {
  const unrouted = `${topology.eventsExchange}.unrouted`;
  await channel.assertExchange(unrouted, 'fanout', { durable: true });
  await channel.assertQueue(unrouted, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(unrouted, unrouted, '');
  await channel.assertExchange(topology.eventsExchange, 'topic', { durable: true, alternateExchange: unrouted });
  const queues = [unrouted];
  for (const [service, types] of Object.entries(topology.subscriptions)) {
    for (const type of types) queues.push(...(await declareConsumerQueues(channel, topology, service, type)));
  }
  return queues;
}

export async function declareConsumerQueues(
  channel: Channel,
  topology: Topology,
  service: string,
  type: string,
): Promise<string[]> {
  const queue = topology.queue(service, type);
  await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(queue, topology.eventsExchange, type);
  const declared = [queue];
  for (let attempt = 1; attempt < topology.attempts; attempt++) {
    const retry = topology.retryQueue(queue, attempt);
    // Classic queues: a per-queue TTL and dead-lettering back to the work queue is all a delay needs.
    await channel.assertQueue(retry, {
      durable: true,
      arguments: {
        'x-message-ttl': topology.retryDelayMs(attempt),
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': queue,
      },
    });
    declared.push(retry);
  }
  const dlq = topology.deadLetterQueue(queue);
  await channel.assertQueue(dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  declared.push(dlq);
  return declared;
}

/** Removes every queue and exchange of a prefix (test teardown; never used in production). */
export async function destroyTopology(channel: Channel, topology: Topology): Promise<void> {
  for (const [service, types] of Object.entries(topology.subscriptions)) {
    for (const type of types) {
      const queue = topology.queue(service, type);
      await channel.deleteQueue(queue);
      await channel.deleteQueue(topology.deadLetterQueue(queue));
      for (let attempt = 1; attempt < topology.attempts; attempt++) await channel.deleteQueue(topology.retryQueue(queue, attempt));
    }
  }
  await channel.deleteQueue(`${topology.eventsExchange}.unrouted`);
  await channel.deleteExchange(topology.eventsExchange);
  await channel.deleteExchange(`${topology.eventsExchange}.unrouted`);
}
