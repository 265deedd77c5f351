import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { decideAiReply } from '../ai/ai-guardrails';
import { AiChatTurn, AiReplyClient } from '../ai/ai-reply.client';
import { WhatsAppRedis } from '../nest/whatsapp-redis';
import { WhatsAppMetrics } from '../nest/whatsapp.metrics';
import { WHATSAPP_OPTIONS, WhatsAppModuleOptions } from '../nest/whatsapp.options';

export const AI_REPLY_CLIENT = Symbol('AI_REPLY_CLIENT');

export interface AiReplyAsk {
  tenantId: string;
  sender: string;
  userText: string;
  history: readonly AiChatTurn[];
  /** What the flow would send instead; also tells the model where the customer stands. */
  fallbackText: string;
}

export type AiReplyAnswer = { kind: 'ai'; text: string } | { kind: 'fallback'; text: string; reason: string };

/**
 * SPEC §14 optional AI replies: within the per-tenant daily and per-sender per-minute budgets
 * (Redis counters), through the OpenAI protocol, falling back to the flow's text past a limit,
 * on a timeout, on any provider error, without a key, and when Redis cannot count.
 */
@Injectable()
export class AiRepliesService {
  private readonly logger = new Logger('whatsapp-ai');

  constructor(
    @Inject(WHATSAPP_OPTIONS) private readonly options: WhatsAppModuleOptions,
    @Inject(AI_REPLY_CLIENT) private readonly client: AiReplyClient | null,
    private readonly redis: WhatsAppRedis,
    private readonly metrics: WhatsAppMetrics,
  ) {}

  get enabled(): boolean {
    return this.client !== null;
  }

  async answer(ask: AiReplyAsk, now = new Date()): Promise<AiReplyAnswer> {
    const client = this.client;
    if (client === null) return this.fallback(ask, 'no_api_key');
    const { tenantKey, senderKey } = counterKeys(ask.tenantId, ask.sender, now);
    // Counting first reserves the call, so concurrent messages cannot all slip under the limit.
    const tenantCount = await this.redis.increment(tenantKey, 2 * 24 * 60 * 60);
    const senderCount = await this.redis.increment(senderKey, 120);
    const decision = decideAiReply({
      apiKeyConfigured: true,
      tenantCallsToday: tenantCount === null ? Number.NaN : tenantCount - 1,
      senderCallsLastMinute: senderCount === null ? Number.NaN : senderCount - 1,
      maxPerTenantPerDay: this.options.ai.maxPerTenantPerDay,
      maxPerSenderPerMinute: this.options.ai.maxPerSenderPerMinute,
    });
    if (!decision.useAi) {
      // A refused call costs nothing: the counters keep meaning "calls made".
      if (tenantCount !== null) await this.redis.decrement(tenantKey);
      if (senderCount !== null) await this.redis.decrement(senderKey);
      return this.fallback(ask, decision.reason);
    }
    const result = await client.reply({
      model: this.options.ai.model,
      systemPrompt: systemPrompt(ask.fallbackText),
      history: ask.history,
      userText: ask.userText,
      maxCompletionTokens: 300,
    });
    if (result.fallback) return this.fallback(ask, result.reason);
    this.metrics.aiCalls.inc({ outcome: 'answered' });
    return { kind: 'ai', text: result.text };
  }

  private fallback(ask: AiReplyAsk, reason: string): AiReplyAnswer {
    this.metrics.aiCalls.inc({ outcome: reason });
    if (reason !== 'no_api_key') this.logger.log({ reason, tenantId: ask.tenantId }, 'AI reply not used; the flow fallback answers');
    return { kind: 'fallback', text: ask.fallbackText, reason };
  }
}

/** Per tenant per UTC day, per sender per UTC minute; the sender is hashed to keep numbers out of Redis. */
export function counterKeys(tenantId: string, sender: string, now: Date): { tenantKey: string; senderKey: string } {
  const iso = now.toISOString();
  const day = iso.slice(0, 10).replace(/-/g, '');
  const minute = iso.slice(0, 16).replace(/[-T:]/g, '');
  const senderHash = createHash('sha256').update(`${tenantId}:${sender}`).digest('hex').slice(0, 24);
  return {
    tenantKey: `whatsapp:ai:tenant:${tenantId}:${day}`,
    senderKey: `whatsapp:ai:sender:${senderHash}:${minute}`,
  };
}

function systemPrompt(fallbackText: string): string {
  return [
    "You answer customers on a business's WhatsApp number.",
    "Reply briefly (at most three sentences) in the customer's language, politely, without inventing prices, addresses or promises.",
    'When you cannot help, invite the customer to choose one of the options of this menu:',
    fallbackText,
  ].join('\n');
}
