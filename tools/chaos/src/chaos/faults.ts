import { ServiceProcess } from '../stack/service-process';
import { call, waitFor } from '../stack/http';
import { PlatformStack } from '../stack/platform-stack';

export interface FaultRecord {
  fault: string;
  /** Seconds since the run started. */
  atSeconds: number;
  /** Seconds from injecting the fault until every service answered ready again; null if it never did. */
  recoveredSeconds: number | null;
  error?: string;
}

export interface Fault {
  name: string;
  inject(stack: PlatformStack): Promise<void>;
}

/** SIGKILL (no shutdown hook runs, in-flight work is cut), then start the same service again. */
export function killAndRestart(pick: (stack: PlatformStack) => ServiceProcess[], label: string): Fault {
  return {
    name: `SIGKILL ${label}, restart`,
    inject: async (stack) => {
      const victims = pick(stack);
      await Promise.all(victims.map((victim) => victim.kill('SIGKILL')));
      await Promise.all(victims.map((victim) => victim.start()));
    },
  };
}

/** RabbitMQ's application stopped (connections dropped, nothing accepted) for a moment, then started. */
export function restartRabbitMq(downMs = 2000): Fault {
  return {
    name: 'RabbitMQ stop_app / start_app',
    inject: async (stack) => {
      await stack.infrastructure.stopRabbitMqApp();
      try {
        await new Promise((resolve) => setTimeout(resolve, downMs));
      } finally {
        await stack.infrastructure.startRabbitMqApp();
      }
    },
  };
}

/** The PostgreSQL cluster restarted (fast shutdown: every connection is cut). */
export function restartPostgres(): Fault {
  return {
    name: 'PostgreSQL restart',
    inject: (stack) => stack.infrastructure.restartPostgres(),
  };
}

/** Injects the fault and measures how long until every service is ready again. */
export async function inject(stack: PlatformStack, fault: Fault, startedAt: number): Promise<FaultRecord> {
  const at = Date.now();
  const record: FaultRecord = {
    fault: fault.name,
    atSeconds: (at - startedAt) / 1000,
    recoveredSeconds: null,
  };
  try {
    await fault.inject(stack);
  } catch (error) {
    record.error = error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
  const ready = await waitFor(
    async () => {
      const statuses = await Promise.all(
        stack
          .all()
          .map(
            async (instance) =>
              (await call(instance.url, 'GET', '/health/readiness', { timeoutMs: 2000 })).status,
          ),
      );
      return statuses.every((status) => status === 200) ? true : undefined;
    },
    90_000,
    200,
  );
  if (ready) record.recoveredSeconds = (Date.now() - at) / 1000;
  return record;
}
