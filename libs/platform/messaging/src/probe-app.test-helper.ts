import { Controller, DynamicModule, Injectable, Module } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EventEnvelope, ProbeData, ProbeEvent } from '@realapp/contracts';
import { BaseConfig, createHttpApp, createRootLogger, IncidentsModule, loadConfig, PlatformModule } from '@realapp/platform';
import { AmqpConnection, BrokerReadiness } from './amqp-connection';
import { ack, ConsumeResult } from './consume-result';
import { InboxService } from './inbox.service';
import { MessagingModule } from './messaging.module';
import { OnEvent } from './on-event.decorator';
import { startConsumers } from './rmq.transport';

/*
 * A minimal service for the messaging machinery's own tests: one consumer of `platform.probe`
 * whose behaviour each test sets per key, writing its effect to public.probe_effects.
 */
export const SERVICE = 'probe-consumer';

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
      tx.query(`INSERT INTO public.probe_effects (key, message_id) VALUES ($1, $2)`, [envelope.data.key, envelope.id]),
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

function probeModule(config: BaseConfig): DynamicModule {
  @Module({ controllers: [ProbeConsumer], providers: [ProbeEffects] })
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

export async function startProbeApp(env: Record<string, string>): Promise<NestFastifyApplication> {
  const config = loadConfig(SERVICE, BaseConfig, env);
  const app = await createHttpApp(probeModule(config), { service: SERVICE, config, title: 'probe', description: 'probe' });
  await startConsumers(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

