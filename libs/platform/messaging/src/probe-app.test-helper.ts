import { Controller, DynamicModule, Injectable, Module } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EventEnvelope, ProbeData, ProbeEvent } from '@realapp/contracts';
import {
  BaseConfig,
  createHttpApp,
  createRootLogger,
  IncidentsModule,
  loadConfig,
  PlatformModule,
} from '@realapp/platform';
import { AmqpConnection, BrokerReadiness } from './amqp-connection';
import { ack, ConsumeResult } from './consume-result';
import { InboxService } from './inbox.service';
import { MessagingModule } from './messaging.module';
import { failureResult, retryLater } from './consume-result';
import { OnEvent, OnEventBatch } from './on-event.decorator';
import { startConsumers } from './rmq.transport';

/*
 * A minimal service for the messaging machinery's own tests: one consumer of `platform.probe`
 * whose behaviour each test sets per key, writing its effect to public.probe_effects.
 */
export const SERVICE = 'probe-consumer';

/** How many times the probe applied a key (rows in public.probe_effects, which each suite creates). */
export async function probeEffects(dataSource: DataSource, key: string): Promise<number> {
  const rows = (await dataSource.query(`SELECT count(*)::int AS n FROM public.probe_effects WHERE key = $1`, [
    key,
  ])) as Array<{ n: number }>;
  return rows[0].n;
}

/** What the probe handler should do for a key, set by each test. */
export const behaviour = new Map<string, { crashAfterCommit?: boolean; attempts: number }>();

@Injectable()
class ProbeEffects {
  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    readonly inbox: InboxService,
    readonly amqp: AmqpConnection,
  ) {}
}

@Controller()
class ProbeConsumer {
  constructor(private readonly effects: ProbeEffects) {}

  @OnEvent(ProbeEvent)
  async handle(envelope: EventEnvelope<ProbeData>): Promise<ConsumeResult> {
    const plan = behaviour.get(envelope.data.key) ?? { attempts: 0 };
    plan.attempts++;
    behaviour.set(envelope.data.key, plan);
    if ((envelope.data.failTimes ?? 0) >= plan.attempts) throw new Error(`probe failure ${plan.attempts}`);
    await this.effects.inbox.runOnce(SERVICE, envelope.id, (tx) =>
      tx.query(`INSERT INTO public.probe_effects (key, message_id) VALUES ($1, $2)`, [
        envelope.data.key,
        envelope.id,
      ]),
    );
    if (plan.crashAfterCommit) {
      plan.crashAfterCommit = false;
      // The effect is committed; the connection dies before the ack can be sent.
      await this.effects.amqp.reconnect();
      throw new Error('connection lost before ack');
    }
    return ack();
  }
}

/** Sizes of the batches the batch probe was handed, in order (for the batch consumer's tests). */
export const batches: number[] = [];

/** Batches of at most this many: small, so a burst of a few dozen spans several. */
export const PROBE_BATCH = 8;

/**
 * The probe as a batch consumer: each message of a batch applied under the inbox on its own, a
 * `failTimes` message answering `retry` (its neighbours unaffected), and a key `throw-batch`
 * making the whole batch throw once.
 */
@Controller()
class ProbeBatchConsumer {
  constructor(private readonly effects: ProbeEffects) {}

  @OnEventBatch(ProbeEvent, { max: PROBE_BATCH })
  async handle(envelopes: ReadonlyArray<EventEnvelope<ProbeData>>): Promise<ConsumeResult[]> {
    batches.push(envelopes.length);
    const throwing = envelopes.find(
      (envelope) => envelope.data.key.startsWith('throw-batch') && !behaviour.has(envelope.data.key),
    );
    if (throwing) {
      behaviour.set(throwing.data.key, { attempts: 1 });
      throw new Error('probe batch failure');
    }
    const results: ConsumeResult[] = [];
    for (const envelope of envelopes) {
      const plan = behaviour.get(envelope.data.key) ?? { attempts: 0 };
      plan.attempts++;
      behaviour.set(envelope.data.key, plan);
      if ((envelope.data.failTimes ?? 0) >= plan.attempts) {
        results.push(retryLater(`probe failure ${plan.attempts}`));
        continue;
      }
      try {
        await this.effects.inbox.runOnce(SERVICE, envelope.id, (tx) =>
          tx.query(`INSERT INTO public.probe_effects (key, message_id) VALUES ($1, $2)`, [
            envelope.data.key,
            envelope.id,
          ]),
        );
        results.push(ack());
      } catch (error) {
        results.push(failureResult(error));
      }
    }
    return results;
  }
}

function probeModule(config: BaseConfig, batch: boolean): DynamicModule {
  @Module({ controllers: [batch ? ProbeBatchConsumer : ProbeConsumer], providers: [ProbeEffects] })
  class ProbeModule {}
  return {
    module: ProbeModule,
    imports: [
      PlatformModule.forRoot({
        service: SERVICE,
        ConfigClass: BaseConfig,
        config,
        logger: createRootLogger({ service: SERVICE, level: config.LOG_LEVEL }),
        readiness: [BrokerReadiness],
      }),
      MessagingModule.forRoot({ service: SERVICE, config, subscriptions: { [SERVICE]: [ProbeEvent.type] } }),
      IncidentsModule.forRoot({ service: SERVICE }),
    ],
  };
}

/**
 * `consume: false` leaves the consumers stopped (start them with `startConsumers(app)`), so a
 * test can fill the queue first.
 */
export async function startProbeApp(
  env: Record<string, string>,
  options: { batch?: boolean; consume?: boolean } = {},
): Promise<NestFastifyApplication> {
  const config = loadConfig(SERVICE, BaseConfig, env);
  const app = await createHttpApp(probeModule(config, options.batch ?? false), {
    service: SERVICE,
    config,
    title: 'probe',
    description: 'probe',
  });
  if (options.consume ?? true) await startConsumers(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}
