import { Module } from '@nestjs/common';
import { LedgerService } from './ledger.service';

/**
 * Import where money moves. Needs only the platform's database (PlatformModule); every posting
 * method takes the caller's transaction.
 */
@Module({
  providers: [LedgerService],
  exports: [LedgerService],
})
export class LedgerModule {}
