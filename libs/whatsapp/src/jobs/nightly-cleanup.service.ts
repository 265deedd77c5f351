import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { withAdvisoryLock } from '@realapp/platform';
import { ConnectionsService } from '../connections/connections.service';
import { ConversationStateStore } from '../conversations/conversation-state.store';

/** SPEC §14: conversation state idle this long is cleared. */
export const CONVERSATION_IDLE_HOURS = 24;

export interface NightlyCleanupSummary {
  /** Conversations whose state was cleared (their next message starts the flow again). */
  clearedConversations: number;
  /** Tokens moved from a retired key to the current one. */
  resealedTokens: number;
}

/**
 * The nightly job (00:00 UTC, one replica): clears the state of conversations idle for 24 h,
 * in the database and in Redis, and re-encrypts tokens still sealed under a retired key.
 * Messages and conversations themselves are kept (they are the tenant's history).
 */
@Injectable()
export class NightlyCleanupService {
  private readonly logger = new Logger('whatsapp');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly state: ConversationStateStore,
    private readonly connections: ConnectionsService,
  ) {}

  async run(): Promise<NightlyCleanupSummary | null> {
    const outcome = await withAdvisoryLock(this.dataSource, 'whatsapp-nightly-cleanup', async () => {
      let cleared = 0;
      for (;;) {
        // Batches keep each statement short; the state_version bump invalidates any cached copy.
        const [rows] = (await this.dataSource.query(
          `UPDATE whatsapp.conversations
           SET current_node_id = NULL, flow_domain = NULL, flow_version = NULL,
               state_version = state_version + 1, state_updated_at = now()
           WHERE id IN (
             SELECT id FROM whatsapp.conversations
             WHERE current_node_id IS NOT NULL AND last_message_at < now() - make_interval(hours => $1)
             LIMIT 500)
           RETURNING id`,
          [CONVERSATION_IDLE_HOURS],
        )) as [Array<{ id: string }>, number];
        if (rows.length === 0) break;
        await this.state.forget(rows.map((row) => row.id));
        cleared += rows.length;
      }
      const { resealed } = await this.connections.resealTokens();
      const summary = { clearedConversations: cleared, resealedTokens: resealed };
      this.logger.log(summary, 'whatsapp nightly cleanup finished');
      return summary;
    });
    return outcome.ran ? outcome.result : null;
  }
}
