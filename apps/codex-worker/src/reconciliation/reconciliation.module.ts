import { Module } from '@nestjs/common';
import { ReconciliationRequestedConsumer } from './reconciliation-requested.consumer';
import { TopupReconciliation } from './topup-reconciliation.service';

/** Needs the global PaymentsModule at the app root. */
@Module({
  controllers: [ReconciliationRequestedConsumer],
  providers: [TopupReconciliation],
  exports: [TopupReconciliation],
})
export class ReconciliationModule {}
