import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EventEnvelope } from '@realapp/contracts';
import { AppError, decodeCursor, Page, toPage } from '@realapp/platform';
import { AmqpConnection } from './amqp-connection';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface DeadLetterView {
  id: string;
  queue: string;
  messageId: string | null;
  type: string | null;
  attempts: number;
  lastError: string;
  deadAt: string;
  replayedAt: string | null;
  replayCount: number;
  envelope: unknown;
}

interface DeadLetterRow {
  id: string;
  queue: string;
  message_id: string | null;
  type: string | null;
  attempts: number;
  last_error: string;
  dead_at: Date;
  replayed_at: Date | null;
  replay_count: number;
  body: string;
}

export type DeadLetterListener = (letter: { queue: string; envelope: EventEnvelope | null; reason: string; attempts: number }) => Promise<void> | void;

/** The dead-letter store that ops reads and replays (SPEC §8, §9). */
@Injectable()
export class DeadLetterService {
  private readonly listeners: DeadLetterListener[] = [];

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly amqp: AmqpConnection,
  ) {}

  /** Lets a domain react when one of its messages dies (e.g. mark a webhook event `dead`). */
  onDeadLetter(listener: DeadLetterListener): void {
    this.listeners.push(listener);
  }

  async record(queue: string, body: Buffer, envelope: EventEnvelope | null, attempts: number, reason: string): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO messaging.dead_letters (queue, message_id, type, attempts, last_error, body)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [queue, envelope?.id ?? null, envelope?.type ?? null, attempts, reason.slice(0, 2000), body.toString('utf8')],
    );
    for (const listener of this.listeners) await listener({ queue, envelope, reason, attempts });
  }

  async list(limit: number, cursor?: string): Promise<Page<DeadLetterView>> {
    const position = decodeCursor(cursor);
    const rows = (await this.dataSource.query(
      `SELECT * FROM messaging.dead_letters
       WHERE ($1::timestamptz IS NULL OR (date_trunc('milliseconds', dead_at), id) < ($1::timestamptz, $2::uuid))
       ORDER BY date_trunc('milliseconds', dead_at) DESC, id DESC LIMIT $3`,
      [position?.at ?? null, position?.id ?? null, limit + 1],
    )) as DeadLetterRow[];
    return toPage(rows, limit, (r) => ({ at: r.dead_at.toISOString(), id: r.id }), (r) => this.view(r));
  }

  async countSince(hours: number): Promise<number> {
    const rows = (await this.dataSource.query(
      `SELECT count(*)::int AS n FROM messaging.dead_letters WHERE dead_at > now() - make_interval(hours => $1)`,
      [hours],
    )) as Array<{ n: number }>;
    return rows[0]?.n ?? 0;
  }

  /**
   * Sends the message back to its work queue with a fresh attempt count. Replaying is always
   * safe: if the first delivery did have its effect, the consumer's inbox makes this one a no-op.
   */
  async replay(id: string): Promise<DeadLetterView> {
    if (!UUID.test(id)) throw new AppError('not_found', 404, 'No such dead letter.');
    const rows = (await this.dataSource.query(`SELECT * FROM messaging.dead_letters WHERE id = $1`, [id])) as DeadLetterRow[];
    const row = rows[0];
    if (!row) throw new AppError('not_found', 404, 'No such dead letter.');
    const channel = await this.amqp.confirmChannel();
    channel.sendToQueue(row.queue, Buffer.from(row.body), {
      persistent: true,
      messageId: row.message_id ?? undefined,
      type: row.type ?? undefined,
      contentType: 'application/json',
      headers: { 'x-attempt': 1, 'x-replayed-from': row.id },
    });
    await channel.waitForConfirms();
    const updated = (await this.dataSource.query(
      `UPDATE messaging.dead_letters SET replayed_at = now(), replay_count = replay_count + 1 WHERE id = $1 RETURNING *`,
      [id],
    )) as [DeadLetterRow[], number];
    return this.view(updated[0][0]);
  }

  private view(row: DeadLetterRow): DeadLetterView {
    let envelope: unknown = row.body;
    try {
      envelope = JSON.parse(row.body);
    } catch {
      // a poison message that was never JSON: show it as the text it was
    }
    return {
      id: row.id,
      queue: row.queue,
      messageId: row.message_id,
      type: row.type,
      attempts: row.attempts,
      lastError: row.last_error,
      deadAt: row.dead_at.toISOString(),
      replayedAt: row.replayed_at ? row.replayed_at.toISOString() : null,
      replayCount: row.replay_count,
      envelope,
    };
  }
}
