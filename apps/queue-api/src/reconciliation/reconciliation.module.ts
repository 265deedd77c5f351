import { Module } from '@nestjs/common';
import { TopupReconciliationController } from './topup-reconciliation.controller';

/** Needs the global PaymentsModule and MessagingModule at the app root. */
@Module({ controllers: [TopupReconciliationController] })
export class ReconciliationHttpModule {}
