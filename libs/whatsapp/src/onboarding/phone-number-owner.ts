import { EntityManager } from 'typeorm';
import { whatsAppNumberLockName } from '@realapp/contracts';
import { lockInTransaction } from '@realapp/platform';

/**
 * "One number, one tenant" (SPEC §4, §16) across the two paths that map a number: the super-admin
 * mapping (auth-api, `auth.whatsapp_numbers`) and the Embedded Signup completion (here,
 * `whatsapp.connections`). Each path takes this transaction-scoped advisory lock and, under it,
 * looks at the other path's table before writing its own, so two requests on different paths
 * cannot both take the number (the lock's name is in @realapp/contracts, which both import). Lock
 * order: the number before the WABA (`whatsapp:waba:<id>`), never after.
 */

/** Holds the number until the transaction ends. */
export async function lockPhoneNumber(tx: EntityManager, phoneNumberId: string): Promise<void> {
  await lockInTransaction(tx, whatsAppNumberLockName(phoneNumberId));
}

/**
 * Whether the super-admin mapping gave the number to another tenant. The other half of the rule,
 * a live connection of another tenant, is `connections_live_phone_uq` (the completion answers
 * `whatsapp_number_taken` for it too). Authoritative only under `lockPhoneNumber`; without it, an
 * early answer that saves the work a refusal would waste.
 */
export async function phoneNumberMappedElsewhere(
  manager: EntityManager,
  phoneNumberId: string,
  tenantId: string,
): Promise<boolean> {
  const rows = (await manager.query(
    `SELECT 1 FROM auth.whatsapp_numbers WHERE phone_number_id = $1 AND tenant_id <> $2`,
    [phoneNumberId, tenantId],
  )) as unknown[];
  return rows.length > 0;
}
