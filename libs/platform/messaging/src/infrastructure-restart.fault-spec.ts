import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { ProbeEvent } from '@realapp/contracts';
import { createTestDatabase, expectEventually, testEnv, TestDatabase } from '@realapp/testing';
import { AmqpConnection } from './amqp-connection';
import { destroyTopology } from './declare-topology';
import { OutboxService } from './outbox.service';
import { startProbeApp } from './probe-app.test-helper';
import { Topology } from './topology';

/*
 * Stops and restarts the machine's real RabbitMQ and PostgreSQL: runs alone, after every other
 * suite (jest project "fault", --runInBand).
 */
const sh = (command: string, args: string[]): string => execFileSync(command, args, { encoding: 'utf8', timeout: 120000 });
const pgCluster = (): [string, string] => [readdirSync('/etc/postgresql')[0], 'main'];

describe('readiness and delivery across broker and database restarts', () => {
  let db: TestDatabase;
  let app: NestFastifyApplication;
  let dataSource: DataSource;
  let url: string;

  const readiness = async (): Promise<number> => {
    try {
      return (await fetch(`${url}/health/readiness`, { signal: AbortSignal.timeout(5000) })).status;
    } catch {
      return 0;
    }
  };
  const effects = async (prefix: string): Promise<Array<{ key: string; n: number }>> =>
    (await dataSource.query(
      `SELECT key, count(*)::int AS n FROM public.probe_effects WHERE key LIKE $1 GROUP BY key ORDER BY key`,
      [`${prefix}%`],
    )) as Array<{ key: string; n: number }>;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startProbeApp(testEnv(db.url));
    url = await app.getUrl();
    dataSource = app.get(DataSource);
    await dataSource.query(`CREATE TABLE public.probe_effects (key text NOT NULL, message_id uuid NOT NULL)`);
    await expectEventually(async () => expect(await readiness()).toBe(200));
  });

  afterAll(async () => {
    sh('rabbitmqctl', ['start_app']);
    const amqp = app.get(AmqpConnection);
    await expectEventually(() => expect(amqp.isConnected()).toBe(true), { timeoutMs: 60000 });
    const channel = await amqp.channel();
    await destroyTopology(channel, app.get(Topology));
    await channel.close();
    await app.close();
    await db.drop();
  });

  it('loses nothing committed to the outbox while RabbitMQ is down, and readiness follows the broker', async () => {
    sh('rabbitmqctl', ['stop_app']);
    const stoppedAt = Date.now();
    await expectEventually(async () => expect(await readiness()).toBe(503), { timeoutMs: 10000, intervalMs: 200 });
    expect(Date.now() - stoppedAt).toBeLessThan(10000);

    // The business keeps committing while the broker is away.
    for (let i = 0; i < 20; i++) {
      await dataSource.transaction((tx) =>
        app.get(OutboxService).enqueue(tx, ProbeEvent, { data: { key: `outage-${String(i).padStart(2, '0')}` } }),
      );
    }

    sh('rabbitmqctl', ['start_app']);
    await expectEventually(async () => expect(await readiness()).toBe(200), { timeoutMs: 60000, intervalMs: 500 });
    await expectEventually(async () => expect(await effects('outage-')).toHaveLength(20), { timeoutMs: 60000 });
    for (const row of await effects('outage-')) expect(row.n).toBe(1);
    const [pending] = (await dataSource.query(
      `SELECT count(*)::int AS n FROM messaging.outbox`,
    )) as Array<{ n: number }>;
    expect(pending.n).toBe(0);
  });

  it('reports 503 within 10 s of PostgreSQL stopping and 200 again when it returns, without a restart', async () => {
    const [version, cluster] = pgCluster();
    sh('pg_ctlcluster', ['--skip-systemctl-redirect', version, cluster, 'stop', '-m', 'fast']);
    try {
      const stoppedAt = Date.now();
      await expectEventually(async () => expect(await readiness()).toBe(503), { timeoutMs: 10000, intervalMs: 200 });
      expect(Date.now() - stoppedAt).toBeLessThan(10000);
    } finally {
      sh('pg_ctlcluster', ['--skip-systemctl-redirect', version, cluster, 'start']);
    }
    await expectEventually(async () => expect(await readiness()).toBe(200), { timeoutMs: 30000, intervalMs: 500 });

    // And the service works again: a new event goes through end to end.
    await dataSource.transaction((tx) => app.get(OutboxService).enqueue(tx, ProbeEvent, { data: { key: 'after-db-restart' } }));
    await expectEventually(async () => expect(await effects('after-db-restart')).toEqual([{ key: 'after-db-restart', n: 1 }]), {
      timeoutMs: 30000,
    });
  });
});
