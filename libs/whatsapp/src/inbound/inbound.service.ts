import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { EventEnvelope, WebhookReceivedData } from '@realapp/contracts';
import { InboxService } from '@realapp/messaging';
import { withAdvisoryLock } from '@realapp/platform';
import { AiChatTurn } from '../ai/ai-reply.client';
import { applyPartnerEvent } from '../connections/connection-attach';
import { ConnectionRow } from '../connections/connection.row';
import { ConnectionsService } from '../connections/connections.service';
import { ConversationStateRecord, ConversationStateStore } from '../conversations/conversation-state.store';
import { fallbackMessageFor, nextStep } from '../flow/flow-engine';
import { FlowsService } from '../flows/flows.service';
import { WhatsAppGraphClient } from '../graph/whatsapp-graph.client';
import { WhatsAppGraphError } from '../graph/whatsapp-graph.errors';
import { WhatsAppMetrics } from '../nest/whatsapp.metrics';
import { WHATSAPP_OPTIONS, WhatsAppModuleOptions } from '../nest/whatsapp.options';
import { parseWhatsAppNotification, WhatsAppInboundMessage, WhatsAppPartnerEvent } from '../whatsapp-webhook.types';
import { AiRepliesService } from './ai-replies.service';
import { KeyedMutex } from './keyed-mutex';

/** The inbox name of the `webhook.meta.received` consumer. */
export const META_WEBHOOK_CONSUMER = 'codex-worker.whatsapp';

/** How many times a reply is tried in all before it is given up as `failed`. */
export const MAX_SEND_ATTEMPTS = 10;
/** Work older than this without progress is picked up by the sweeper. */
const STALE_AFTER_SECONDS = 30;
/** A send whose outcome never came back is reported as `unknown` after this long. */
const SENDING_UNKNOWN_AFTER_SECONDS = 300;
const AI_HISTORY_TURNS = 10;

/** What a webhook came to, for the stored event's record (SPEC §7 statuses). */
export interface WebhookHandling {
  tenantId: string | null;
  /** Why nothing happened, when that is worth knowing to ops. */
  note: string | null;
}

type ReplyKind = 'flow' | 'ai' | 'fallback';
type ReplyStatus = 'composing' | 'pending' | 'sending' | 'sent' | 'failed' | 'unknown';

interface InboundRow {
  id: string;
  tenant_id: string;
  conversation_id: string;
  phone_number_id: string;
  text: string | null;
  status: 'received' | 'processed';
  at: Date;
}

interface ReplyRow {
  id: string;
  tenant_id: string;
  conversation_id: string;
  phone_number_id: string;
  reply_to_message_id: string;
  reply_kind: ReplyKind;
  text: string | null;
  fallback_text: string | null;
  status: ReplyStatus;
  attempts: number;
  sender: string;
}

/**
 * Inbound WhatsApp traffic (SPEC §14): partner events and customer messages from Meta's
 * webhooks, and the reply to each message, sent exactly once.
 *
 * A message moves through three recorded steps, each idempotent, so any retry (Meta's
 * redelivery, the broker's, the sweeper's) continues where the last attempt stopped:
 * 1. receipt: the inbound row (unique per wamid) in the consumer's inbox transaction;
 * 2. advance: under the conversation's lock, the flow engine picks the answer, the reply
 *    intent is recorded (unique per inbound message) and the conversation state moves on;
 * 3. delivery: the AI composes the text when asked to, then one attempt claims the intent and
 *    calls Graph. An intent that was handed to Graph is never sent again: Meta has no
 *    idempotency key for messages, so a send whose answer was lost ends `unknown`, not twice.
 */
@Injectable()
export class InboundService {
  private readonly logger = new Logger('whatsapp');
  private readonly conversationsInProcess = new KeyedMutex();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(WHATSAPP_OPTIONS) private readonly options: WhatsAppModuleOptions,
    private readonly inbox: InboxService,
    private readonly flows: FlowsService,
    private readonly state: ConversationStateStore,
    private readonly ai: AiRepliesService,
    private readonly connections: ConnectionsService,
    private readonly graph: WhatsAppGraphClient,
    private readonly metrics: WhatsAppMetrics,
  ) {}

  /**
   * The `webhook.meta.received` handler's work. Throws when a reply should be tried again (the
   * transport retries the message; everything done so far is recorded and skipped next time).
   */
  async handleWebhook(envelope: EventEnvelope<WebhookReceivedData>): Promise<WebhookHandling> {
    if (envelope.data.provider !== 'meta') return { tenantId: envelope.tenantId, note: 'not a Meta webhook' };
    const parsed = parseWhatsAppNotification(envelope.data.payload);
    if (parsed.messages.length === 0 && parsed.partnerEvents.length === 0) {
      return { tenantId: envelope.tenantId, note: null };
    }

    const receipt = await this.inbox.runOnce(META_WEBHOOK_CONSUMER, envelope.id, async (tx) => {
      let tenantId: string | null = null;
      let unmapped = false;
      for (const event of parsed.partnerEvents) tenantId = (await this.applyPartnerEvent(tx, event)) ?? tenantId;
      for (const message of parsed.messages) {
        const routed = await this.receive(tx, message, envelope.tenantId);
        if (routed === null) unmapped = true;
        tenantId ??= routed;
      }
      return { tenantId, unmapped };
    });

    let retry: Error | null = null;
    for (const message of parsed.messages) {
      const inboundId = await this.inboundIdOf(message);
      if (inboundId === null) continue;
      try {
        await this.process(inboundId);
      } catch (error) {
        // A refused send is recorded as failed on the reply; only what may work later is retried.
        if (error instanceof WhatsAppGraphError && !error.retryable) continue;
        retry ??= error instanceof Error ? error : new Error(String(error));
      }
    }
    if (retry !== null) throw retry;
    if (receipt.duplicate) return { tenantId: envelope.tenantId, note: null };
    return {
      tenantId: receipt.result.tenantId ?? envelope.tenantId,
      note: receipt.result.unmapped ? 'tenant_not_mapped_for_phone_number_id' : null,
    };
  }

  /** Advances the conversation for one received message and delivers its reply. */
  async process(inboundId: string): Promise<void> {
    await this.advance(inboundId);
    await this.deliver(inboundId);
  }

  /**
   * Picks up work a crash or an exhausted retry left behind: messages received but never
   * advanced, replies never composed or sent, sends whose answer never came back.
   */
  async sweep(): Promise<{ advanced: number; delivered: number; gaveUp: number; unknown: number } | null> {
    const outcome = await withAdvisoryLock(this.dataSource, 'whatsapp-reply-sweeper', async () => {
      const result = { advanced: 0, delivered: 0, gaveUp: 0, unknown: 0 };
      const received = (await this.dataSource.query(
        `SELECT id FROM whatsapp.messages
         WHERE direction = 'inbound' AND status = 'received' AND created_at < now() - make_interval(secs => $1)
         ORDER BY created_at LIMIT 50`,
        [STALE_AFTER_SECONDS],
      )) as Array<{ id: string }>;
      for (const { id } of received) {
        await this.process(id).catch((error: unknown) => this.logger.warn({ inboundId: id, err: describe(error) }, 'sweeper could not finish a message'));
        result.advanced++;
      }
      const [, gaveUp] = (await this.dataSource.query(
        `UPDATE whatsapp.messages SET status = 'failed', lease_until = NULL, updated_at = now(),
           last_error = COALESCE(last_error, 'gave up') || ' (after ' || attempts || ' attempts)'
         WHERE status = 'pending' AND attempts >= $1 RETURNING id`,
        [MAX_SEND_ATTEMPTS],
      )) as [unknown[], number];
      result.gaveUp = gaveUp;
      const [unknownRows, unknown] = (await this.dataSource.query(
        `UPDATE whatsapp.messages SET status = 'unknown', lease_until = NULL, updated_at = now(),
           last_error = 'the send was interrupted before Meta answered'
         WHERE status = 'sending' AND updated_at < now() - make_interval(secs => $1) RETURNING id`,
        [SENDING_UNKNOWN_AFTER_SECONDS],
      )) as [Array<{ id: string }>, number];
      result.unknown = unknown;
      for (const { id } of unknownRows) {
        this.metrics.replies.inc({ kind: 'any', outcome: 'unknown' });
        this.logger.error({ code: 'whatsapp_reply_outcome_unknown', replyId: id }, 'a WhatsApp reply may or may not have been sent');
      }
      const stale = (await this.dataSource.query(
        `SELECT reply_to_message_id FROM whatsapp.messages
         WHERE status IN ('composing', 'pending') AND updated_at < now() - make_interval(secs => $1)
           AND (lease_until IS NULL OR lease_until < now())
         ORDER BY updated_at LIMIT 50`,
        [STALE_AFTER_SECONDS],
      )) as Array<{ reply_to_message_id: string }>;
      for (const { reply_to_message_id: inboundId } of stale) {
        await this.deliver(inboundId).catch((error: unknown) =>
          this.logger.warn({ inboundId, err: describe(error) }, 'sweeper could not deliver a reply'),
        );
        result.delivered++;
      }
      return result;
    });
    return outcome.ran ? outcome.result : null;
  }

  // ---- 1. receipt ------------------------------------------------------------------------------

  private async applyPartnerEvent(tx: EntityManager, event: WhatsAppPartnerEvent): Promise<string | null> {
    const { outcome, connectionId, tenantId } = await applyPartnerEvent(tx, event);
    this.metrics.partnerEvents.inc({ outcome });
    const fields = { event: event.event, wabaId: event.wabaId, connectionId, outcome };
    if (outcome === 'orphan_created') {
      this.logger.warn({ ...fields, code: 'whatsapp_orphan_waba' }, 'a WABA was shared with no matching signup or tenant: ops can claim it');
    } else {
      this.logger.log(fields, 'whatsapp partner event applied');
    }
    return tenantId;
  }

  /** Stores the message under its tenant, once per wamid; answers the tenant (null: unmapped). */
  private async receive(tx: EntityManager, message: WhatsAppInboundMessage, envelopeTenantId: string | null): Promise<string | null> {
    const [route] = (await tx.query(
      `SELECT tenant_id FROM whatsapp.connections
       WHERE phone_number_id = $1 AND status <> 'disconnected' AND tenant_id IS NOT NULL`,
      [message.phoneNumberId],
    )) as Array<{ tenant_id: string }>;
    // A number mapped by a super-admin has no connection here; the gateway's routing named its tenant.
    const tenantId = route?.tenant_id ?? envelopeTenantId;
    if (tenantId === null) {
      this.metrics.inboundMessages.inc({ outcome: 'tenant_not_mapped' });
      this.logger.warn(
        { code: 'tenant_not_mapped_for_phone_number_id', phoneNumberId: message.phoneNumberId },
        'a WhatsApp message arrived for a number no tenant has',
      );
      return null;
    }
    // Receipt time, not Meta's (whole seconds, and possibly old on a redelivery): messages and
    // replies then read in the order the conversation actually moved.
    const at = new Date();
    const [conversation] = (await tx.query(
      `INSERT INTO whatsapp.conversations (id, tenant_id, phone_number_id, sender, last_message_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, phone_number_id, sender)
       DO UPDATE SET last_message_at = GREATEST(whatsapp.conversations.last_message_at, EXCLUDED.last_message_at)
       RETURNING id`,
      [randomUUID(), tenantId, message.phoneNumberId, message.from, at],
    )) as Array<{ id: string }>;
    const inserted = (await tx.query(
      `INSERT INTO whatsapp.messages
         (id, tenant_id, conversation_id, phone_number_id, direction, text, message_type, provider_message_id, status, at)
       VALUES ($1, $2, $3, $4, 'inbound', $5, $6, $7, 'received', $8)
       ON CONFLICT (phone_number_id, provider_message_id) WHERE direction = 'inbound' DO NOTHING
       RETURNING id`,
      [randomUUID(), tenantId, conversation.id, message.phoneNumberId, message.text?.slice(0, 4096) ?? null, message.type, message.messageId, at],
    )) as unknown[];
    this.metrics.inboundMessages.inc({ outcome: inserted.length === 1 ? 'received' : 'duplicate' });
    return tenantId;
  }

  private async inboundIdOf(message: WhatsAppInboundMessage): Promise<string | null> {
    const [row] = (await this.dataSource.query(
      `SELECT id FROM whatsapp.messages WHERE direction = 'inbound' AND phone_number_id = $1 AND provider_message_id = $2`,
      [message.phoneNumberId, message.messageId],
    )) as Array<{ id: string }>;
    return row?.id ?? null;
  }

  // ---- 2. advance ------------------------------------------------------------------------------

  private async advance(inboundId: string): Promise<void> {
    const [message] = (await this.dataSource.query(`SELECT conversation_id, status FROM whatsapp.messages WHERE id = $1`, [
      inboundId,
    ])) as Array<Pick<InboundRow, 'conversation_id' | 'status'>>;
    if (!message || message.status === 'processed') return;
    const conversationId = message.conversation_id;
    await this.conversationsInProcess.run(conversationId, () => this.advanceLocked(inboundId, conversationId));
  }

  /**
   * One conversation at a time across replicas: a session-level advisory lock, held from before
   * the state is read until after it is cached again, so the cache is only ever written by the
   * holder (see ConversationStateStore).
   */
  private async advanceLocked(inboundId: string, conversationId: string): Promise<void> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    const lock = `whatsapp:conversation:${conversationId}`;
    try {
      await runner.query(`SELECT pg_advisory_lock(${LOCK_KEY_SQL})`, [lock]);
      try {
        let cached: ConversationStateRecord | null = null;
        await runner.startTransaction();
        try {
          cached = await this.advanceInTransaction(runner.manager, inboundId, conversationId);
          await runner.commitTransaction();
        } catch (error) {
          if (runner.isTransactionActive) await runner.rollbackTransaction();
          throw error;
        }
        if (cached !== null) await this.state.cache(conversationId, cached);
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(${LOCK_KEY_SQL})`, [lock]).catch(() => undefined);
      }
    } finally {
      await runner.release();
    }
  }

  private async advanceInTransaction(tx: EntityManager, inboundId: string, conversationId: string): Promise<ConversationStateRecord | null> {
    const [message] = (await tx.query(`SELECT * FROM whatsapp.messages WHERE id = $1 FOR UPDATE`, [inboundId])) as InboundRow[];
    if (message.status === 'processed') return null;
    const live = await this.flows.live(message.tenant_id, tx);
    let next: ConversationStateRecord | null = null;
    if (live === null) {
      // SPEC §14: without a published flow nothing is sent; the message is kept.
      this.metrics.inboundMessages.inc({ outcome: 'no_published_flow' });
    } else {
      const state = await this.state.read(tx, conversationId);
      const currentNodeId = state.flowDomain === live.domain ? state.nodeId : null;
      const step = nextStep(live.flow, { currentNodeId }, message.text ?? '');
      let kind: ReplyKind;
      let status: 'pending' | 'composing';
      let text: string | null;
      let fallbackText: string | null = null;
      if (step.kind === 'reply') {
        kind = 'flow';
        status = 'pending';
        text = step.message;
      } else if (this.ai.enabled) {
        kind = 'ai';
        status = 'composing';
        text = null;
        fallbackText = fallbackMessageFor(live.flow, step);
      } else {
        kind = 'fallback';
        status = 'pending';
        text = fallbackMessageFor(live.flow, step);
      }
      await tx.query(
        `INSERT INTO whatsapp.messages
           (id, tenant_id, conversation_id, phone_number_id, direction, text, reply_to_message_id, reply_kind, fallback_text, status, at)
         VALUES ($1, $2, $3, $4, 'outbound', $5, $6, $7, $8, $9, $10)
         ON CONFLICT (reply_to_message_id) DO NOTHING`,
        [randomUUID(), message.tenant_id, conversationId, message.phone_number_id, text, inboundId, kind, fallbackText, status, new Date()],
      );
      next = await this.state.write(tx, conversationId, { nodeId: step.nodeId, flowDomain: live.domain, flowVersion: live.version });
    }
    await tx.query(`UPDATE whatsapp.messages SET status = 'processed', updated_at = now() WHERE id = $1`, [inboundId]);
    return next;
  }

  // ---- 3. delivery -----------------------------------------------------------------------------

  private async deliver(inboundId: string): Promise<void> {
    let reply = await this.replyTo(inboundId);
    if (reply?.status === 'composing') {
      await this.compose(reply);
      reply = await this.replyTo(inboundId);
    }
    if (reply?.status === 'pending') await this.send(reply);
  }

  private async replyTo(inboundId: string): Promise<ReplyRow | null> {
    const [row] = (await this.dataSource.query(
      `SELECT m.id, m.tenant_id, m.conversation_id, m.phone_number_id, m.reply_to_message_id, m.reply_kind, m.text,
              m.fallback_text, m.status, m.attempts, c.sender
       FROM whatsapp.messages m JOIN whatsapp.conversations c ON c.id = m.conversation_id
       WHERE m.reply_to_message_id = $1`,
      [inboundId],
    )) as ReplyRow[];
    return row ?? null;
  }

  private async compose(reply: ReplyRow): Promise<void> {
    // A lease, not a status: if this process dies while the AI thinks, the sweeper composes again.
    const leaseSeconds = Math.ceil(this.options.ai.timeoutSeconds) + 15;
    const [claimed] = (await this.dataSource.query(
      `UPDATE whatsapp.messages SET lease_until = now() + make_interval(secs => $2), updated_at = now()
       WHERE id = $1 AND status = 'composing' AND (lease_until IS NULL OR lease_until < now()) RETURNING id`,
      [reply.id, leaseSeconds],
    )) as [unknown[], number];
    if (claimed.length === 0) return;
    const [inbound] = (await this.dataSource.query(`SELECT text, at, created_at FROM whatsapp.messages WHERE id = $1`, [
      reply.reply_to_message_id,
    ])) as Array<{ text: string | null; at: Date; created_at: Date }>;
    const earlier = (await this.dataSource.query(
      `SELECT direction, text FROM whatsapp.messages
       WHERE conversation_id = $1 AND id <> $2 AND text IS NOT NULL AND (direction = 'inbound' OR status = 'sent')
         AND (at, created_at) < ($3, $4)
       ORDER BY at DESC, created_at DESC LIMIT $5`,
      [reply.conversation_id, reply.reply_to_message_id, inbound.at, inbound.created_at, AI_HISTORY_TURNS],
    )) as Array<{ direction: 'inbound' | 'outbound'; text: string }>;
    const history: AiChatTurn[] = earlier.reverse().map((turn) => ({
      role: turn.direction === 'inbound' ? 'user' : 'assistant',
      content: turn.text,
    }));
    const answer = await this.ai.answer({
      tenantId: reply.tenant_id,
      sender: reply.sender,
      userText: inbound.text ?? '',
      history,
      fallbackText: reply.fallback_text ?? '',
    });
    await this.dataSource.query(
      `UPDATE whatsapp.messages SET text = $2, reply_kind = $3, status = 'pending', lease_until = NULL, updated_at = now()
       WHERE id = $1 AND status = 'composing'`,
      [reply.id, answer.text, answer.kind],
    );
  }

  private async send(reply: ReplyRow): Promise<void> {
    // Everything the call needs is ready before the claim, so that between the claim and the
    // request leaving this process there is nothing but the call itself.
    const [connection] = (await this.dataSource.query(
      `SELECT * FROM whatsapp.connections WHERE tenant_id = $1 AND phone_number_id = $2 AND status <> 'disconnected'`,
      [reply.tenant_id, reply.phone_number_id],
    )) as ConnectionRow[];
    const token = connection ? this.connections.openToken(connection) : null;

    // The claim: of all concurrent attempts, exactly one moves the intent to `sending`.
    const [claimed] = (await this.dataSource.query(
      `UPDATE whatsapp.messages SET status = 'sending', attempts = attempts + 1, lease_until = now(), updated_at = now()
       WHERE id = $1 AND status = 'pending' RETURNING id`,
      [reply.id],
    )) as [unknown[], number];
    if (claimed.length === 0) return;

    if (token === null || reply.text === null) {
      await this.finish(reply.id, 'failed', 'no connection with a usable token for this number');
      this.metrics.replies.inc({ kind: reply.reply_kind, outcome: 'failed' });
      this.logger.warn({ code: 'whatsapp_no_usable_connection', replyId: reply.id, phoneNumberId: reply.phone_number_id }, 'a reply cannot be sent');
      return;
    }

    let messageId: string;
    try {
      ({ messageId } = await this.graph.sendText(reply.phone_number_id, token, reply.sender, reply.text));
    } catch (error) {
      await this.afterFailedSend(reply, connection, error);
      return;
    }
    // Sent: if recording it fails, the row stays `sending` (never sent again) and the sweeper
    // reports it; resetting it to `pending` here could send it twice.
    await this.dataSource.transaction(async (tx) => {
      await tx.query(
        `UPDATE whatsapp.messages SET status = 'sent', provider_message_id = $2, sent_at = now(), lease_until = NULL,
           last_error = NULL, updated_at = now()
         WHERE id = $1`,
        [reply.id, messageId],
      );
      await tx.query(`UPDATE whatsapp.conversations SET last_message_at = GREATEST(last_message_at, now()) WHERE id = $1`, [
        reply.conversation_id,
      ]);
    });
    this.metrics.replies.inc({ kind: reply.reply_kind, outcome: 'sent' });
  }

  /** Records how a send failed; throws when trying again later may work. */
  private async afterFailedSend(reply: ReplyRow, connection: ConnectionRow, error: unknown): Promise<void> {
    if (!(error instanceof WhatsAppGraphError)) {
      // Not an answer from Meta (a bug before the call left): nothing was sent.
      await this.finish(reply.id, 'pending', describe(error));
      throw error;
    }
    if (error.ambiguous) {
      await this.finish(reply.id, 'unknown', error.message);
      this.metrics.replies.inc({ kind: reply.reply_kind, outcome: 'unknown' });
      this.logger.error({ code: 'whatsapp_reply_outcome_unknown', replyId: reply.id, err: error.message }, 'a WhatsApp reply may or may not have been sent');
      return;
    }
    if (error.retryable) {
      // Meta answered with an error: nothing was sent, so sending again is safe.
      await this.finish(reply.id, 'pending', error.message);
      this.metrics.replies.inc({ kind: reply.reply_kind, outcome: 'retry' });
      throw error;
    }
    await this.finish(reply.id, 'failed', error.message);
    this.metrics.replies.inc({ kind: reply.reply_kind, outcome: 'failed' });
    this.logger.error({ code: 'whatsapp_reply_refused', replyId: reply.id, graphCode: error.graphCode }, 'Meta refused a WhatsApp reply');
    if (error.tokenInvalid) await this.connections.markTokenInvalid(connection);
  }

  private async finish(replyId: string, status: 'pending' | 'failed' | 'unknown', lastError: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE whatsapp.messages SET status = $2, last_error = $3, lease_until = NULL, updated_at = now() WHERE id = $1`,
      [replyId, status, lastError.slice(0, 2000)],
    );
  }
}

/** The same key derivation as the platform's advisory-lock helpers. */
const LOCK_KEY_SQL = `('x' || substr(md5($1), 1, 16))::bit(64)::bigint`;

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
