import { activatePlan, approveAndNotify, createPixTopup, Customer, signUp } from '../stack/customers';
import { waitFor } from '../stack/http';
import { PlatformStack, startPlatformStack } from '../stack/platform-stack';
import { Fault, FaultRecord, inject, killAndRestart, restartPostgres, restartRabbitMq } from './faults';
import { checkInvariants, pendingWork } from './invariants';
import { LoadGenerator } from './load';
import { ChaosReport } from './report';

export interface ChaosOptions {
  durationSeconds: number;
  /** Compiled services (`dist/`, or a private build). */
  buildDir: string;
  infrastructure?: 'private' | 'shared';
  customers?: number;
  logDir?: string;
  keepDatabase?: boolean;
  log?: (line: string) => void;
}

/** The faults, in order, each at its share of the run (a fault waits for the previous one to heal). */
const SCHEDULE: Array<{ at: number; fault: Fault }> = [
  { at: 0.08, fault: killAndRestart((s) => s.instances['codex-worker'], 'codex-worker') },
  { at: 0.22, fault: killAndRestart((s) => s.instances['webhook-gateway'], 'webhook-gateway') },
  { at: 0.36, fault: restartRabbitMq() },
  { at: 0.55, fault: restartPostgres() },
  {
    at: 0.72,
    fault: killAndRestart(
      (s) => [...s.instances['codex-worker'], ...s.instances['webhook-gateway']],
      'worker + gateway together',
    ),
  },
];

/**
 * One chaos run on loopback: start the platform on its own database and broker prefix, put
 * customers on it, stream top-ups (signed webhooks) and orders while the faults hit, then let it
 * settle and check that nothing was lost and nothing doubled. Bounded: the run, then at most
 * 60 s of redelivery and 120 s to settle.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((): void => undefined);
  log(
    `starting the platform (${options.infrastructure ?? 'private'} PostgreSQL and RabbitMQ, own database, broker prefix and ports)…`,
  );
  const stack = await startPlatformStack({
    buildDir: options.buildDir,
    infrastructure: options.infrastructure,
    logDir: options.logDir,
    // Retries patient enough to outlast a database restart (1 s, 5 s, 25 s) but quick to begin.
    env: { MESSAGE_RETRY_BASE_DELAY_MS: '1000', OUTBOX_POLL_INTERVAL_MS: '500' },
    // Launches cut by a SIGKILL are recovered after MVP_RUNNING_STALE_SECONDS (300 s in production):
    // short here, so that recovery happens within the run and is checked.
    serviceEnv: {
      'codex-worker': {
        META_INSIGHTS_INTERVAL_MS: '5000',
        HEARTBEAT_INTERVAL_MS: '1000',
        MVP_RUNNING_STALE_SECONDS: '10',
      },
    },
  });
  try {
    const customers = await prepareCustomers(stack, options.customers ?? 8, log);
    const load = new LoadGenerator(stack, customers);
    const startedAt = Date.now();
    log(`streaming top-ups and orders for ${options.durationSeconds} s while injecting faults…`);
    load.start();
    const faults: FaultRecord[] = [];
    for (const { at, fault } of SCHEDULE) {
      const due = startedAt + at * options.durationSeconds * 1000;
      if (Date.now() < due) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      log(`  fault: ${fault.name}`);
      const record = await inject(stack, fault, startedAt);
      log(
        `    ready again after ${record.recoveredSeconds === null ? 'NEVER' : `${record.recoveredSeconds.toFixed(1)} s`}${record.error ? ` (${record.error})` : ''}`,
      );
      faults.push(record);
    }
    const end = startedAt + options.durationSeconds * 1000;
    if (Date.now() < end) await new Promise((resolve) => setTimeout(resolve, end - Date.now()));
    await load.stop();
    const stoppedAt = Date.now();
    log(`load stopped; delivering what the gateway has not accepted yet and letting the platform settle…`);
    await load.drainDeliveries(60_000);
    const settled = await waitFor(
      async () => {
        const work = await pendingWork(stack);
        return work.outbox + work.webhooks + work.orders + work.queued === 0 ? true : undefined;
      },
      120_000,
      500,
    );
    const settledSeconds = settled ? (Date.now() - stoppedAt) / 1000 : null;
    const invariants = await checkInvariants(stack, load.topups, load.orders);
    const ok = invariants.every((i) => i.ok) && faults.every((f) => f.recoveredSeconds !== null);
    return {
      durationSeconds: options.durationSeconds,
      faults,
      invariants,
      load: load.counters,
      settledSeconds,
      ok,
    };
  } catch (error) {
    for (const instance of stack.all()) log(`--- ${instance.name} (last lines)\n${instance.tail(20)}`);
    throw error;
  } finally {
    await stack.close({ keepDatabase: options.keepDatabase });
  }
}

/** Customers with an active plan and a first top-up, so their orders can be queued at once. */
async function prepareCustomers(
  stack: PlatformStack,
  count: number,
  log: (line: string) => void,
): Promise<Customer[]> {
  log(`signing up ${count} customers with an active plan and a funded wallet…`);
  const customers: Customer[] = [];
  for (let i = 0; i < count; i++) customers.push(await signUp(stack));
  await Promise.all(customers.map((customer) => activatePlan(stack, customer)));
  await Promise.all(
    customers.map(async (customer) => {
      const topup = await createPixTopup(stack, customer, 20_000);
      if (!topup) throw new Error('could not create the first top-up');
      const statuses = await approveAndNotify(stack, topup.paymentId);
      if (!statuses.includes(200))
        throw new Error(`the first top-up's webhook answered ${statuses.join(',')}`);
    }),
  );
  return customers;
}
