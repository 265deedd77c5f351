import { Module } from '@nestjs/common';
import { BillingController } from './billing.controller';
import { SubscriptionController } from './subscription.controller';
import { TopupsController } from './topups.controller';

/**
 * The billing endpoints of SPEC §5. Their services come from the global `PaymentsModule` (and the
 * `LedgerModule` it re-exports), imported once at the app's root.
 */
@Module({ controllers: [BillingController, TopupsController, SubscriptionController] })
export class BillingHttpModule {}
