import { DynamicModule, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SUBSCRIPTIONS } from '@realapp/contracts';
import { BaseConfig, MetricsService } from '@realapp/platform';
import { AmqpConnection, BrokerReadiness } from './amqp-connection';
import { DeadLetterIncidents } from './dead-letter-incidents';
import { DeadLetterService } from './dead-letter.service';
import { InboxService } from './inbox.service';
import { OutboxRelay } from './outbox-relay';
import { OutboxService } from './outbox.service';
import { RmqTransport } from './rmq.transport';
import { Topology } from './topology';

export interface MessagingOptions {
  service: string;
  config: BaseConfig;
  /** Defaults to the platform's SUBSCRIPTIONS; tests of the machinery bring their own. */
  subscriptions?: Readonly<Record<string, readonly string[]>>;
}

@Injectable()
class BrokerStarter implements OnApplicationBootstrap {
  constructor(private readonly amqp: AmqpConnection) {}
  async onApplicationBootstrap(): Promise<void> {
    await this.amqp.start();
  }
}

/**
 * Outbox, relay, inbox, dead letters and the consumer transport. Every service relays the shared
 * outbox (SKIP LOCKED makes that safe); only processes that connect the transport consume.
 */
@Module({})
export class MessagingModule {
  static forRoot(options: MessagingOptions): DynamicModule {
    const { config, service } = options;
    return {
      module: MessagingModule,
      global: true,
      providers: [
        {
          provide: Topology,
          useValue: new Topology(
            config.AMQP_PREFIX,
            config.MESSAGE_MAX_ATTEMPTS,
            config.MESSAGE_RETRY_BASE_DELAY_MS,
            options.subscriptions ?? SUBSCRIPTIONS,
          ),
        },
        { provide: AmqpConnection, useValue: new AmqpConnection({ url: config.AMQP_URL, service }) },
        BrokerStarter,
        BrokerReadiness,
        OutboxService,
        InboxService,
        DeadLetterService,
        DeadLetterIncidents,
        {
          provide: OutboxRelay,
          useFactory: (
            dataSource: DataSource,
            amqp: AmqpConnection,
            topology: Topology,
            metrics: MetricsService,
            outbox: OutboxService,
          ) =>
            new OutboxRelay(
              dataSource,
              amqp,
              topology,
              { pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS },
              metrics,
              outbox,
            ),
          inject: [DataSource, AmqpConnection, Topology, MetricsService, OutboxService],
        },
        {
          provide: RmqTransport,
          useFactory: (
            amqp: AmqpConnection,
            topology: Topology,
            deadLetters: DeadLetterService,
            metrics: MetricsService,
          ) =>
            new RmqTransport(
              amqp,
              topology,
              deadLetters,
              { service, prefetch: config.AMQP_PREFETCH },
              metrics,
            ),
          inject: [AmqpConnection, Topology, DeadLetterService, MetricsService],
        },
      ],
      exports: [
        Topology,
        AmqpConnection,
        BrokerReadiness,
        OutboxService,
        InboxService,
        DeadLetterService,
        OutboxRelay,
        RmqTransport,
      ],
    };
  }
}
