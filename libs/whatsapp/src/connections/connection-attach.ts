import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { lockInTransaction } from '@realapp/platform';
import { WhatsAppApiError } from '../nest/whatsapp-api.errors';
import { TokenVault } from '../nest/token-vault';
import { WhatsAppPartnerEvent } from '../whatsapp-webhook.types';
import { ConnectionRow, wabaLockName } from './connection.row';
import { statusAfterCheck } from './token-status';

export interface SignupAttachment {
  tenantId: string;
  sessionId: string;
  wabaId: string;
  phoneNumberId: string | null;
  displayPhoneNumber: string | null;
  businessId: string | null;
  token: string;
  tokenExpiresAt: Date | null;
}

/**
 * The completion side of "one connection per WABA": creates the tenant's connection, or takes
 * over the orphan a partner event left for this WABA (case 1 with the event first), or renews
 * the tenant's own connection (a reconnect). The token is sealed with the row's id as AAD.
 */
export async function attachSignup(tx: EntityManager, vault: TokenVault, input: SignupAttachment): Promise<ConnectionRow> {
  await lockInTransaction(tx, wabaLockName(input.wabaId));
  const [existing] = (await tx.query(`SELECT * FROM whatsapp.connections WHERE waba_id = $1 FOR UPDATE`, [
    input.wabaId,
  ])) as ConnectionRow[];
  if (existing && existing.tenant_id !== null && existing.tenant_id !== input.tenantId) {
    throw new WhatsAppApiError('waba_connected_elsewhere', 'This WhatsApp Business Account is connected to another account.');
  }
  const id = existing?.id ?? randomUUID();
  const sealed = vault.seal(input.token, id);
  const status = statusAfterCheck('active', { valid: true, expiresAt: input.tokenExpiresAt }, new Date());
  if (existing) {
    const [rows] = (await tx.query(
      `UPDATE whatsapp.connections SET
         tenant_id = $2, phone_number_id = COALESCE($3, phone_number_id),
         display_phone_number = CASE WHEN $3::text IS NULL THEN display_phone_number ELSE $4 END,
         business_id = COALESCE($5, business_id), status = $6, token_ciphertext = $7, token_key_id = $8,
         token_expires_at = $9, token_scopes = '{}', last_checked_at = NULL, onboarding_session_id = $10,
         disconnected_at = NULL, updated_at = now()
       WHERE id = $1 RETURNING *`,
      [
        id,
        input.tenantId,
        input.phoneNumberId,
        input.displayPhoneNumber,
        input.businessId,
        status,
        sealed.ciphertext,
        sealed.keyId,
        input.tokenExpiresAt,
        input.sessionId,
      ],
    )) as [ConnectionRow[], number];
    return rows[0];
  }
  const [row] = (await tx.query(
    `INSERT INTO whatsapp.connections
       (id, tenant_id, waba_id, phone_number_id, display_phone_number, business_id, status,
        token_ciphertext, token_key_id, token_expires_at, source, onboarding_session_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'signup', $11) RETURNING *`,
    [
      id,
      input.tenantId,
      input.wabaId,
      input.phoneNumberId,
      input.displayPhoneNumber,
      input.businessId,
      status,
      sealed.ciphertext,
      sealed.keyId,
      input.tokenExpiresAt,
      input.sessionId,
    ],
  )) as ConnectionRow[];
  return row;
}

/** Meta events that mean "our app now has access to this WABA" (SPEC §14). */
export const PARTNER_EVENTS: ReadonlySet<string> = new Set(['PARTNER_ADDED', 'PARTNER_APP_INSTALLED']);

export interface PartnerResult {
  outcome: PartnerOutcome;
  connectionId: string | null;
  /** The tenant the WABA belongs to now; null while it is an orphan (or the event was ignored). */
  tenantId: string | null;
}

export type PartnerOutcome =
  | 'ignored'
  | 'already_attached'
  | 'attached_by_session'
  | 'attached_by_business'
  | 'orphan_created'
  | 'orphan_seen_again';

/**
 * The three cases of SPEC §14 for a partner event, idempotent whatever the order and number of
 * deliveries (the WABA lock and the unique WABA constraint keep it to one connection):
 * 1. a completed signup session reported this WABA → that session's tenant;
 * 2. exactly one tenant's known business id equals `owner_business_id` → that tenant;
 * 3. otherwise an orphan for ops to claim (and the completion naming the WABA attaches it later).
 * A connection made here has no token of its own (Meta sends none): it shows as `token_invalid`
 * until a signup for the WABA brings one.
 */
export async function applyPartnerEvent(tx: EntityManager, event: WhatsAppPartnerEvent): Promise<PartnerResult> {
  if (!PARTNER_EVENTS.has(event.event)) return { outcome: 'ignored', connectionId: null, tenantId: null };
  await lockInTransaction(tx, wabaLockName(event.wabaId));
  const seenAt = event.time === null ? new Date() : new Date(event.time * 1000);
  const [existing] = (await tx.query(`SELECT * FROM whatsapp.connections WHERE waba_id = $1 FOR UPDATE`, [
    event.wabaId,
  ])) as ConnectionRow[];

  if (existing && existing.tenant_id !== null) {
    await tx.query(
      `UPDATE whatsapp.connections SET partner_event = $2, partner_event_at = GREATEST(partner_event_at, $3),
         business_id = COALESCE(business_id, $4), updated_at = now() WHERE id = $1`,
      [existing.id, event.event, seenAt, event.ownerBusinessId],
    );
    return { outcome: 'already_attached', connectionId: existing.id, tenantId: existing.tenant_id };
  }

  const [bySession] = (await tx.query(
    `SELECT id, tenant_id FROM whatsapp.onboarding_sessions WHERE waba_id = $1 AND status = 'completed'
     ORDER BY completed_at DESC LIMIT 1`,
    [event.wabaId],
  )) as Array<{ id: string; tenant_id: string }>;
  let tenantId: string | null = bySession?.tenant_id ?? null;
  let outcome: PartnerOutcome = 'attached_by_session';
  if (tenantId === null && event.ownerBusinessId !== null) {
    const tenants = (await tx.query(
      `SELECT tenant_id FROM whatsapp.onboarding_sessions WHERE business_id = $1 AND status = 'completed'
       UNION
       SELECT tenant_id FROM whatsapp.connections WHERE business_id = $1 AND tenant_id IS NOT NULL`,
      [event.ownerBusinessId],
    )) as Array<{ tenant_id: string }>;
    // Two tenants claiming one business is a question for ops, not a guess.
    if (tenants.length === 1) {
      tenantId = tenants[0].tenant_id;
      outcome = 'attached_by_business';
    }
  }

  if (existing) {
    if (tenantId === null) {
      await tx.query(
        `UPDATE whatsapp.connections SET partner_event = $2, partner_event_at = GREATEST(partner_event_at, $3),
           business_id = COALESCE(business_id, $4), updated_at = now() WHERE id = $1`,
        [existing.id, event.event, seenAt, event.ownerBusinessId],
      );
      return { outcome: 'orphan_seen_again', connectionId: existing.id, tenantId: null };
    }
    await tx.query(
      `UPDATE whatsapp.connections SET tenant_id = $2, partner_event = $3, partner_event_at = GREATEST(partner_event_at, $4),
         business_id = COALESCE(business_id, $5), updated_at = now() WHERE id = $1`,
      [existing.id, tenantId, event.event, seenAt, event.ownerBusinessId],
    );
    return { outcome, connectionId: existing.id, tenantId };
  }

  const id = randomUUID();
  await tx.query(
    `INSERT INTO whatsapp.connections
       (id, tenant_id, waba_id, business_id, status, source, partner_event, partner_event_at, orphaned_at)
     VALUES ($1, $2, $3, $4, 'token_invalid', 'partner_event', $5, $6, CASE WHEN $2::uuid IS NULL THEN date_trunc('milliseconds', now()) END)`,
    [id, tenantId, event.wabaId, event.ownerBusinessId, event.event, seenAt],
  );
  return { outcome: tenantId === null ? 'orphan_created' : outcome, connectionId: id, tenantId };
}

/**
 * Partner-event case 2 when the event came first: a completion that names the tenant's business
 * id adopts the orphans Meta reported for WABAs of that business, unless another tenant also
 * knows the business (then ops decides). Answers the adopted connection ids.
 */
export async function adoptOrphansOfBusiness(tx: EntityManager, tenantId: string, businessId: string): Promise<string[]> {
  const [shared] = (await tx.query(
    `SELECT 1 FROM whatsapp.onboarding_sessions WHERE business_id = $1 AND status = 'completed' AND tenant_id <> $2
     UNION ALL
     SELECT 1 FROM whatsapp.connections WHERE business_id = $1 AND tenant_id IS NOT NULL AND tenant_id <> $2
     LIMIT 1`,
    [businessId, tenantId],
  )) as unknown[];
  if (shared !== undefined) return [];
  const orphans = (await tx.query(
    `SELECT id, waba_id FROM whatsapp.connections WHERE tenant_id IS NULL AND business_id = $1 ORDER BY waba_id`,
    [businessId],
  )) as Array<{ id: string; waba_id: string }>;
  const adopted: string[] = [];
  for (const orphan of orphans) {
    await lockInTransaction(tx, wabaLockName(orphan.waba_id));
    const [rows] = (await tx.query(
      `UPDATE whatsapp.connections SET tenant_id = $2, updated_at = now() WHERE id = $1 AND tenant_id IS NULL RETURNING id`,
      [orphan.id, tenantId],
    )) as [Array<{ id: string }>, number];
    if (rows.length > 0) adopted.push(orphan.id);
  }
  return adopted;
}
