import { DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule, TypeOrmModuleOptions } from '@nestjs/typeorm';
import type { Pool, PoolClient } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { BaseConfig } from '../config/base.config';
import { DatabaseReadiness } from './database';

@Module({})
export class DatabaseModule {
  static forRoot(config: BaseConfig, applicationName: string): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: (): TypeOrmModuleOptions => ({
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
              max: config.DATABASE_POOL_SIZE,
              connectionTimeoutMillis: 3000,
              idleTimeoutMillis: 30000,
              statement_timeout: 15000,
              idle_in_transaction_session_timeout: 30000,
            },
          }),
          dataSourceFactory: async (options) =>
            guardClientErrors(await new DataSource(options as DataSourceOptions).initialize()),
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
 * restart, `pg_terminate_backend`), and an `error` nobody listens to ends the process. The pool
 * and TypeORM listen while a client is idle or held by a query runner, but the chaos run found a
 * moment in a PostgreSQL restart when neither did and the worker died. Every client gets a
 * listener of its own for its whole life: the error is logged, and the pool still drops the
 * broken client (its own listeners and `release(err)` are unchanged).
 */
function guardClientErrors(dataSource: DataSource): DataSource {
  const pool = (dataSource.driver as unknown as { master?: Pool }).master;
  if (!pool) return dataSource;
  const guarded = new WeakSet<PoolClient>();
  const guard = (client: PoolClient): void => {
    if (guarded.has(client)) return;
    guarded.add(client);
    client.on('error', (error: Error) =>
      logger.warn({ err: error }, 'database connection lost; the pool replaces it'),
    );
  };
  pool.on('connect', guard);
  // The client TypeORM opened while initialising came before the listener above.
  for (const client of (pool as unknown as { _clients?: PoolClient[] })._clients ?? []) guard(client);
  return dataSource;
}
