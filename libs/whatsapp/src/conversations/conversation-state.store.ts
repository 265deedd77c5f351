import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { WhatsAppRedis } from '../nest/whatsapp-redis';

/** Where one sender stands in the tenant's flow. */
export interface ConversationStateRecord {
  nodeId: string | null;
  flowDomain: string | null;
  flowVersion: number | null;
  /** `state_version` of the row: only ever grows, so an older cache entry never wins. */
  version: number;
}

/**
 * Short enough to bound how long an entry that survived a Redis outage can be stale, long enough
 * to serve a whole conversation from the cache.
 */
const CACHE_TTL_SECONDS = 60 * 60;

export const conversationStateKey = (conversationId: string): string => `whatsapp:conversation:${conversationId}:state`;

/**
 * The seed's hybrid cache: conversation state is read from Redis and, on a miss, from
 * PostgreSQL (the source of truth), and written to both. Correctness rests on two rules that
 * callers follow while holding the conversation's lock:
 * - `write` deletes the cached entry inside the transaction, before the commit, so a crash
 *   between commit and re-caching leaves a miss, never a stale hit;
 * - `cache` runs after the commit, still under the lock, and only ever replaces an older version.
 */
@Injectable()
export class ConversationStateStore {
  constructor(private readonly redis: WhatsAppRedis) {}

  async read(tx: EntityManager, conversationId: string): Promise<ConversationStateRecord> {
    const cached = await this.redis.getJson<ConversationStateRecord>(conversationStateKey(conversationId));
    if (cached !== undefined && isState(cached)) return cached;
    const [row] = (await tx.query(
      `SELECT current_node_id, flow_domain, flow_version, state_version FROM whatsapp.conversations WHERE id = $1`,
      [conversationId],
    )) as Array<{ current_node_id: string | null; flow_domain: string | null; flow_version: number | null; state_version: string }>;
    return {
      nodeId: row?.current_node_id ?? null,
      flowDomain: row?.flow_domain ?? null,
      flowVersion: row?.flow_version ?? null,
      version: Number(row?.state_version ?? 0),
    };
  }

  async write(
    tx: EntityManager,
    conversationId: string,
    next: Omit<ConversationStateRecord, 'version'>,
  ): Promise<ConversationStateRecord> {
    const [rows] = (await tx.query(
      `UPDATE whatsapp.conversations
       SET current_node_id = $2, flow_domain = $3, flow_version = $4, state_version = state_version + 1, state_updated_at = now()
       WHERE id = $1 RETURNING state_version`,
      [conversationId, next.nodeId, next.flowDomain, next.flowVersion],
    )) as [Array<{ state_version: string }>, number];
    // Availability wins over a perfect cache: if Redis cannot confirm the delete (it is down), the
    // answer still goes out; an entry that survived such an outage is stale for at most the TTL.
    await this.redis.del(conversationStateKey(conversationId));
    return { ...next, version: Number(rows[0].state_version) };
  }

  async cache(conversationId: string, state: ConversationStateRecord): Promise<void> {
    await this.redis.setIfNewer(conversationStateKey(conversationId), state, CACHE_TTL_SECONDS);
  }

  async forget(conversationIds: readonly string[]): Promise<boolean> {
    return this.redis.del(...conversationIds.map(conversationStateKey));
  }
}

function isState(value: unknown): value is ConversationStateRecord {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    (v['nodeId'] === null || typeof v['nodeId'] === 'string') &&
    (v['flowDomain'] === null || typeof v['flowDomain'] === 'string') &&
    (v['flowVersion'] === null || typeof v['flowVersion'] === 'number') &&
    typeof v['version'] === 'number'
  );
}
