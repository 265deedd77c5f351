export const AI_DEFAULT_LIMITS = {
  /** `OPENAI_MAX_CALLS_PER_TENANT_PER_DAY` */
  maxPerTenantPerDay: 500,
  /** `OPENAI_MAX_CALLS_PER_SENDER_PER_MINUTE` */
  maxPerSenderPerMinute: 6,
} as const;

export interface AiGuardrailInput {
  apiKeyConfigured: boolean;
  /** AI calls this tenant already made today, not counting the one being decided. */
  tenantCallsToday: number;
  /** AI calls already made for this sender in the last minute, not counting this one. */
  senderCallsLastMinute: number;
  maxPerTenantPerDay?: number;
  maxPerSenderPerMinute?: number;
}

export type AiSkipReason = 'no_api_key' | 'tenant_daily_limit' | 'sender_minute_limit';

export type AiDecision = { useAi: true } | { useAi: false; reason: AiSkipReason };

/**
 * Whether a no-match may be answered by the AI (SPEC §14), checked in the order that explains the
 * refusal best: no key, then the tenant's daily budget, then the sender's per-minute cap.
 *
 * A count that is not a finite number ≥ 0 (say a counter read that went wrong) counts as over the
 * limit: each call costs the tenant money, and the flow's fallback is always a safe answer.
 * A limit of 0 switches AI off for that scope.
 */
export function decideAiReply(input: AiGuardrailInput): AiDecision {
  if (!input.apiKeyConfigured) return { useAi: false, reason: 'no_api_key' };
  const tenantLimit = input.maxPerTenantPerDay ?? AI_DEFAULT_LIMITS.maxPerTenantPerDay;
  if (!underLimit(input.tenantCallsToday, tenantLimit)) return { useAi: false, reason: 'tenant_daily_limit' };
  const senderLimit = input.maxPerSenderPerMinute ?? AI_DEFAULT_LIMITS.maxPerSenderPerMinute;
  if (!underLimit(input.senderCallsLastMinute, senderLimit))
    return { useAi: false, reason: 'sender_minute_limit' };
  return { useAi: true };
}

function underLimit(used: number, limit: number): boolean {
  // A NaN limit compares false and so refuses too; Infinity means no limit.
  return Number.isFinite(used) && used >= 0 && used < limit;
}
