import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
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
