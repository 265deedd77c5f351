import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { cursorAtSql, decodeCursor, Page, toPage } from '@realapp/platform';

export interface ConversationMessageView {
  direction: 'inbound' | 'outbound';
  text: string | null;
  at: string;
}

/** SPEC §16. */
export interface ConversationView {
  id: string;
  phoneNumberId: string;
  from: string;
  lastMessageAt: string;
  messages: ConversationMessageView[];
}

/** Messages shown per conversation in a list page (the most recent ones, oldest first). */
export const CONVERSATION_MESSAGES_SHOWN = 50;

interface ConversationRow {
  id: string;
  phone_number_id: string;
  sender: string;
  last_message_at: Date;
}

interface MessageRow {
  conversation_id: string;
  direction: 'inbound' | 'outbound';
  text: string | null;
  at: Date;
  sent_at: Date | null;
}

@Injectable()
export class ConversationsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Recent conversations, newest activity first, each with its inbound messages and the replies that went out. */
  async list(tenantId: string, limit: number, cursor?: string): Promise<Page<ConversationView>> {
    const position = decodeCursor(cursor);
    const rows = (await this.dataSource.query(
      `SELECT id, phone_number_id, sender, last_message_at, ${cursorAtSql('last_message_at')} AS cursor_at
       FROM whatsapp.conversations
       WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (last_message_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY last_message_at DESC, id DESC LIMIT $4`,
      [tenantId, position?.at ?? null, position?.id ?? null, limit + 1],
    )) as Array<ConversationRow & { cursor_at: string }>;
    const ids = rows.slice(0, limit).map((row) => row.id);
    const messages = ids.length
      ? ((await this.dataSource.query(
          `SELECT conversation_id, direction, text, at, sent_at FROM (
             SELECT m.*, row_number() OVER (PARTITION BY conversation_id ORDER BY at DESC, created_at DESC) AS rn
             FROM whatsapp.messages m
             WHERE m.tenant_id = $1 AND m.conversation_id = ANY($2::uuid[])
               -- A reply shows once it went out (or may have: sending, unknown), never as a mere intent.
               AND (m.direction = 'inbound' OR m.status IN ('sending', 'sent', 'unknown'))
           ) recent
           WHERE rn <= $3 ORDER BY at ASC, created_at ASC`,
          [tenantId, ids, CONVERSATION_MESSAGES_SHOWN],
        )) as MessageRow[])
      : [];
    const byConversation = new Map<string, ConversationMessageView[]>();
    for (const message of messages) {
      const list = byConversation.get(message.conversation_id) ?? [];
      list.push({ direction: message.direction, text: message.text, at: (message.sent_at ?? message.at).toISOString() });
      byConversation.set(message.conversation_id, list);
    }
    return toPage(
      rows,
      limit,
      (row) => ({ at: row.cursor_at, id: row.id }),
      (row) => ({
        id: row.id,
        phoneNumberId: row.phone_number_id,
        from: row.sender,
        lastMessageAt: row.last_message_at.toISOString(),
        messages: byConversation.get(row.id) ?? [],
      }),
    );
  }
}
