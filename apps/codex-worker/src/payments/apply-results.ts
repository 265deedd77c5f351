import type { SubscriptionApplyResult, TopupApplyResult } from '@realapp/payments';
import { WebhookEffect } from './webhook-outcomes';

/**
 * How the payments services' answers map to a webhook's fate. Applied, unchanged and stale
 * (out-of-order) reports are all handled: the top-up converged on the provider's state. A report
 * about nothing of ours is handled with a note. A provider object that contradicts our top-up, or
 * money taken for a top-up we already closed, needs a human: dead-lettered, so ops sees it.
 */
export function topupEffect(result: TopupApplyResult): WebhookEffect {
  switch (result.outcome) {
    case 'applied':
    case 'unchanged':
      return { kind: 'done', tenantId: result.tenantId };
    case 'stale':
      if (result.detail === 'paid_after_close') {
        return {
          kind: 'dead',
          reason: `paid_after_close: top-up ${result.topupId} was ${result.previousStatus} when the payment arrived`,
        };
      }
      return { kind: 'done', tenantId: result.tenantId, note: result.detail ?? 'stale' };
    case 'not_found':
      return { kind: 'done', tenantId: null, note: `not_found: ${result.detail ?? 'no matching top-up'}` };
    case 'mismatch':
      return {
        kind: 'dead',
        reason: `mismatch: ${result.detail ?? 'the provider object contradicts the top-up'}`,
      };
  }
}

export function subscriptionEffect(result: SubscriptionApplyResult): WebhookEffect {
  switch (result.outcome) {
    case 'applied':
    case 'unchanged':
      return { kind: 'done', tenantId: result.tenantId };
    case 'stale':
      return { kind: 'done', tenantId: result.tenantId, note: result.detail ?? 'stale' };
    case 'not_found':
      return {
        kind: 'done',
        tenantId: null,
        note: `not_found: ${result.detail ?? 'no matching subscription'}`,
      };
  }
}
