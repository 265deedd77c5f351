import { Module } from '@nestjs/common';
import { IdempotencyCleanupJob } from './idempotency-cleanup.job';

/** queue-api's periodic jobs (each runs on one replica per interval). */
@Module({ providers: [IdempotencyCleanupJob], exports: [IdempotencyCleanupJob] })
export class JobsModule {}
