import { ConnectionStatus } from './token-status';

/** A row of whatsapp.connections as pg returns it. */
export interface ConnectionRow {
  id: string;
  tenant_id: string | null;
  waba_id: string;
  phone_number_id: string | null;
  display_phone_number: string | null;
  business_id: string | null;
  status: ConnectionStatus;
  token_ciphertext: string | null;
  token_key_id: string | null;
  token_expires_at: Date | null;
  token_scopes: string[];
  last_checked_at: Date | null;
  source: 'signup' | 'partner_event';
  onboarding_session_id: string | null;
  partner_event: string | null;
  partner_event_at: Date | null;
  orphaned_at: Date | null;
  claimed_at: Date | null;
  disconnected_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/**
 * SPEC §14. Never carries a token: `tokenExpiresAt` is a date (SPEC §16: nothing named *token*
 * holds one).
 */
export interface ConnectionView {
  id: string;
  wabaId: string;
  phoneNumberId: string | null;
  displayPhoneNumber: string | null;
  status: ConnectionStatus;
  tokenExpiresAt: string | null;
  lastCheckedAt: string | null;
}

export interface OrphanView {
  id: string;
  wabaId: string;
  ownerBusinessId: string | null;
  receivedAt: string;
}

export interface ClaimedOrphanView extends ConnectionView {
  tenantId: string;
}

export interface TokenCheckView {
  valid: boolean;
  expiresAt: string | null;
  scopes: string[];
}

export function connectionView(row: ConnectionRow): ConnectionView {
  return {
    id: row.id,
    wabaId: row.waba_id,
    phoneNumberId: row.phone_number_id,
    displayPhoneNumber: row.display_phone_number,
    status: row.status,
    tokenExpiresAt: row.token_expires_at?.toISOString() ?? null,
    lastCheckedAt: row.last_checked_at?.toISOString() ?? null,
  };
}

export function orphanView(row: ConnectionRow): OrphanView {
  return {
    id: row.id,
    wabaId: row.waba_id,
    ownerBusinessId: row.business_id,
    receivedAt: (row.orphaned_at ?? row.created_at).toISOString(),
  };
}

/** Serialises work on one WABA across requests, consumers and replicas (advisory lock name). */
export const wabaLockName = (wabaId: string): string => `whatsapp:waba:${wabaId}`;

/** pg's unique_violation, with the constraint that raised it. */
export function uniqueViolation(error: unknown): string | null {
  const e = error as { code?: unknown; constraint?: unknown; driverError?: { code?: unknown; constraint?: unknown } } | null;
  const code = e?.code ?? e?.driverError?.code;
  if (code !== '23505') return null;
  const constraint = e?.constraint ?? e?.driverError?.constraint;
  return typeof constraint === 'string' ? constraint : '';
}
