import { PlatformMessaging1732400000000 } from './1732400000000-platform-messaging';
import { Auth1732400001000 } from './1732400001000-auth';
import { Webhooks1732400003000 } from './1732400003000-webhooks';
import { LedgerBilling1732400002000 } from './1732400002000-ledger-billing';
import { Ops1732400005000 } from './1732400005000-ops';
import { Orders1732400004000 } from './1732400004000-orders';
import { WhatsApp1732400006000 } from './1732400006000-whatsapp';
import { OutboxWakeups1732400007000 } from './1732400007000-outbox-wakeups';
import { OutboxAsQueue1732400008000 } from './1732400008000-outbox-as-queue';
import { CheaperShapeChecks1732400009000 } from './1732400009000-cheaper-shape-checks';
import { TopupIdsUniqueWhenSet1732400010000 } from './1732400010000-topup-ids-unique-when-set';

/**
 * Every migration, in order. Each capability appends its own file here; a migration is never
 * edited after it has run anywhere (fix forward).
 */
export const MIGRATIONS = [PlatformMessaging1732400000000, Webhooks1732400003000, LedgerBilling1732400002000, Ops1732400005000, Orders1732400004000, Auth1732400001000, WhatsApp1732400006000, OutboxWakeups1732400007000, OutboxAsQueue1732400008000, CheaperShapeChecks1732400009000, TopupIdsUniqueWhenSet1732400010000];
