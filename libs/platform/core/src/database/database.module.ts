import { DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Client, ClientConfig } from 'pg';
import { BaseConfig } from '../config/base.config';
import { DatabaseReadiness } from './database';

@Module({})
export class DatabaseModule {
  static forRoot(config: BaseConfig, applicationName: string): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: config.DATABASE_URL,
          autoLoadEntities: true,
          synchronize: false,
          migrationsRun: false,
          logging: false,
          applicationName,
          // Fail fast at boot instead of hanging; readiness reports the outage afterwards.
          retryAttempts: 10,
          retryDelay: 1000,
          extra: {
            Client: ListeningClient,
            max: config.DATABASE_POOL_SIZE,
            connectionTimeoutMillis: 3000,
            idleTimeoutMillis: 30000,
            statement_timeout: 15000,
            idle_in_transaction_session_timeout: 30000,
          },
        }),
      ],
      providers: [DatabaseReadiness],
      exports: [DatabaseReadiness],
    };
  }
}

const logger = new Logger('database');

/**
 * node-pg emits `error` on a client when the server ends its connection between queries (a
 * restart, `pg_terminate_backend`), and an `error` nobody listens to ends the process. The pool and
 * TypeORM listen while a client is idle or held by a query runner, but the chaos run found a moment
 * in a PostgreSQL restart when neither did and the worker died. The pool builds its clients from
 * this class, so each listens for its whole life: the error is logged, and the pool still drops the
 * broken client (its own listeners and `release(err)` are unchanged).
 */
class ListeningClient extends Client {
  constructor(config?: string | ClientConfig) {
    super(config);
    this.on('error', (error: Error) =>
      logger.warn({ err: error }, 'database connection lost; the pool replaces it'),
    );
  }
}
