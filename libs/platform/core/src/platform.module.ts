import { DynamicModule, Module, Type } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Logger } from 'pino';
import { BaseConfig } from './config/base.config';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { DatabaseReadiness } from './database/database';
import { HealthController } from './health/health.controller';
import { READINESS_CHECKS, ReadinessCheck } from './health/readiness';
import { IdempotencyService } from './idempotency/idempotency.service';
import { LoggingModule } from './logging/logging.module';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';

export interface PlatformOptions<T extends BaseConfig> {
  service: string;
  ConfigClass: new () => T;
  config: T;
  logger: Logger;
  /** Readiness checks beyond the database (the broker, Redis), provided by their own modules. */
  readiness?: Array<Type<ReadinessCheck>>;
}

/** What every process gets: config, logs, database, health, metrics, idempotency. */
@Module({})
export class PlatformModule {
  static forRoot<T extends BaseConfig>(options: PlatformOptions<T>): DynamicModule {
    const readiness = [DatabaseReadiness, ...(options.readiness ?? [])];
    return {
      module: PlatformModule,
      global: true,
      imports: [
        AppConfigModule.forRoot(options.ConfigClass, options.config, [BaseConfig]),
        LoggingModule.forRoot(options.logger),
        DatabaseModule.forRoot(options.config, options.service),
        TerminusModule.forRoot({ errorLogStyle: 'json', gracefulShutdownTimeoutMs: 0 }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        MetricsService,
        IdempotencyService,
        { provide: READINESS_CHECKS, useFactory: (...checks: ReadinessCheck[]) => checks, inject: readiness },
      ],
      exports: [MetricsService, IdempotencyService],
    };
  }
}
