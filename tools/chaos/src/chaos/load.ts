import { randomUUID } from 'node:crypto';
import { approveAndNotify, anOrder, createPixTopup, Customer, redeliver } from '../stack/customers';
import { call } from '../stack/http';
import { PlatformStack } from '../stack/platform-stack';

export interface TrackedTopup {
  tenantId: string;
  topupId: string;
  paymentId: string;
  amountCents: number;
  /** The gateway answered 200 to at least one delivery of its approval. */
  accepted: boolean;
  deliveries: number;
}

export interface TrackedOrder {
  tenantId: string;
  orderId: string;
  budgetCents: number;
  stopRequested: boolean;
}

export interface LoadCounters {
  topupsCreated: number;
  topupCreateFailures: number;
  webhookDeliveries: number;
  webhookRefusedOrUnreachable: number;
  ordersCreated: number;
  orderCreateFailures: number;
  stopsRequested: number;
  throttled: number;
}

/**
 * The traffic during the run: customers top up by PIX (each approval delivered by the sandbox as a
 * signed Mercado Pago webhook, sometimes twice), create ads orders, and stop some of them. Deliveries
 * the gateway did not accept are delivered again, as Mercado Pago does, until accepted.
 */
export class LoadGenerator {
  readonly topups: TrackedTopup[] = [];
  readonly orders: TrackedOrder[] = [];
  readonly counters: LoadCounters = {
    topupsCreated: 0,
    topupCreateFailures: 0,
    webhookDeliveries: 0,
    webhookRefusedOrUnreachable: 0,
    ordersCreated: 0,
    orderCreateFailures: 0,
    stopsRequested: 0,
    throttled: 0,
  };
  private running = false;
  private loops: Array<Promise<void>> = [];
  private turn = 0;

  constructor(
    private readonly stack: PlatformStack,
    private readonly customers: Customer[],
  ) {}

  start({
    topupsPerSecond = 4,
    ordersPerSecond = 3,
  }: { topupsPerSecond?: number; ordersPerSecond?: number } = {}): void {
    this.running = true;
    this.loops = [
      this.every(1000 / topupsPerSecond, () => this.topUp()),
      this.every(1000 / ordersPerSecond, () => this.order()),
      this.every(1000, () => this.redeliverPending()),
    ];
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Keeps delivering unaccepted approvals until all are accepted or the time is up. */
  async drainDeliveries(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await this.redeliverPending();
      if (this.topups.every((topup) => topup.accepted)) return true;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return this.topups.every((topup) => topup.accepted);
  }

  private async every(intervalMs: number, action: () => Promise<void>): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    while (this.running) {
      const started = Date.now();
      // Fire without waiting (arrivals do not slow down when the platform does), capped so that a
      // stalled platform does not pile up thousands of open requests.
      if (inFlight.size < 8) {
        const task = action().finally(() => inFlight.delete(task));
        inFlight.add(task);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - started))));
    }
    await Promise.all(inFlight);
  }

  private nextCustomer(): Customer {
    return this.customers[this.turn++ % this.customers.length];
  }

  private queueApi(): number {
    return this.turn % this.stack.instances['queue-api'].length;
  }

  private async topUp(): Promise<void> {
    const customer = this.nextCustomer();
    const amountCents = 3000 + 100 * Math.floor(Math.random() * 60);
    const topup = await createPixTopup(this.stack, customer, amountCents, this.queueApi());
    if (!topup) {
      this.counters.topupCreateFailures += 1;
      return;
    }
    this.counters.topupsCreated += 1;
    const tracked: TrackedTopup = {
      tenantId: customer.tenantId,
      topupId: topup.id,
      paymentId: topup.paymentId,
      amountCents,
      accepted: false,
      deliveries: 0,
    };
    this.topups.push(tracked);
    // A third of the approvals arrive twice (Mercado Pago duplicates notifications).
    const statuses = await approveAndNotify(this.stack, topup.paymentId, Math.random() < 0.33 ? 2 : 1);
    this.record(tracked, statuses);
  }

  private async redeliverPending(): Promise<void> {
    const pending = this.topups.filter((topup) => !topup.accepted);
    for (const topup of pending.slice(0, 10))
      this.record(topup, await redeliver(this.stack, topup.paymentId));
  }

  private record(topup: TrackedTopup, statuses: number[]): void {
    topup.deliveries += statuses.length;
    this.counters.webhookDeliveries += statuses.length;
    this.counters.webhookRefusedOrUnreachable += statuses.filter((status) => status !== 200).length;
    if (statuses.includes(200)) topup.accepted = true;
  }

  private async order(): Promise<void> {
    const customer = this.nextCustomer();
    const budgetCents = 1000 + 100 * Math.floor(Math.random() * 20);
    const api = this.stack.url('queue-api', this.queueApi());
    const created = await call<{ id: string; status: string }>(api, 'POST', '/v1/ads/orders', {
      token: customer.token,
      ip: customer.ip,
      idempotencyKey: randomUUID(),
      body: anOrder(budgetCents),
    });
    if (created.status === 429) this.counters.throttled += 1;
    if (created.status !== 201) {
      this.counters.orderCreateFailures += 1;
      return;
    }
    this.counters.ordersCreated += 1;
    const tracked: TrackedOrder = {
      tenantId: customer.tenantId,
      orderId: created.body.id,
      budgetCents,
      stopRequested: false,
    };
    this.orders.push(tracked);
    // One order in five is stopped by its customer soon after: the hold must come back exactly once.
    if (Math.random() < 0.2) {
      const stopped = await call(api, 'POST', `/v1/ads/orders/${tracked.orderId}/stop`, {
        token: customer.token,
        ip: customer.ip,
      });
      if (stopped.status === 202) {
        tracked.stopRequested = true;
        this.counters.stopsRequested += 1;
      }
    }
  }
}
