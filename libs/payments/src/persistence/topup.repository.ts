import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, Repository } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { CursorPosition, withCursorAt } from '@realapp/platform';
import type { PaymentsProvider } from '../payments.errors';
import { TopupEntity } from './topup.entity';

export interface NewTopup {
  id: string;
  tenantId: string;
  provider: PaymentsProvider;
  amountCents: number;
  currency: string;
  expiresAt: Date | null;
  createdAt: Date;
}

/** A column's persisted value in a form `===` can compare (dates by instant, JSON by text). */
function comparable(value: unknown): unknown {
  return value instanceof Date ? value.getTime() : value;
}

/**
 * Every query of `billing.topups`. Methods named `lock…` take the row lock (SELECT … FOR UPDATE)
 * and must run inside the caller's transaction; tenant-facing reads always filter on the tenant.
 *
 * The locks of the webhook path are plain SQL hydrated through the entity's own column metadata
 * (the same conversions TypeORM applies), and a row this repository locked remembers what it was
 * loaded as: `save` then writes only the changed columns in one UPDATE, where TypeORM's `save`
 * would first read the row again to find them.
 */
@Injectable()
export class TopupRepository {
  private readonly columns: readonly ColumnMetadata[];
  private readonly selectList: string;
  /** What each locked row holds in the database, as `comparable` persisted values. */
  private readonly loaded = new WeakMap<TopupEntity, Map<ColumnMetadata, unknown>>();

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.columns = dataSource.getMetadata(TopupEntity).columns;
    this.selectList = this.columns.map((column) => `"${column.databaseName}"`).join(', ');
  }

  private repo(tx?: EntityManager): Repository<TopupEntity> {
    return (tx ?? this.dataSource.manager).getRepository(TopupEntity);
  }

  async insert(tx: EntityManager, input: NewTopup): Promise<TopupEntity> {
    const row = this.repo(tx).create({
      ...input,
      status: 'pending',
      providerPaymentId: null,
      providerSessionId: null,
      providerPaymentIntentId: null,
      providerStatus: null,
      providerStatusDetail: null,
      pix: null,
      checkoutUrl: null,
      refundedCents: 0,
      chargedBackCents: 0,
      failureCode: null,
      updatedAt: input.createdAt,
      approvedAt: null,
      closedAt: null,
      refundedAt: null,
      chargedBackAt: null,
      reconciledAt: null,
    });
    await this.repo(tx).insert(row);
    return row;
  }

  /** Writes a locked row's changes (nothing when nothing changed); other rows go through TypeORM. */
  async save(tx: EntityManager, row: TopupEntity): Promise<TopupEntity> {
    if (!this.loaded.has(row)) return this.repo(tx).save(row);
    await this.saveMany(tx, [row]);
    return row;
  }

  /**
   * The changes of rows this repository locked, one or many, in one UPDATE over arrays: the columns
   * any of them changed, each row writing its own value (unchanged for the rows that kept it).
   * Nothing is sent when nothing changed.
   */
  async saveMany(tx: EntityManager, rows: readonly TopupEntity[]): Promise<void> {
    if (rows.some((row) => !this.loaded.has(row)))
      throw new Error('saveMany takes rows locked by this repository');
    const changes = rows.map((row) => ({ row, ...this.changesOf(row) }));
    const columns = this.columns.filter((column) =>
      changes.some((change) => change.changed.includes(column)),
    );
    if (columns.length > 0) {
      const driver = this.dataSource.driver;
      const arrays = [
        changes.map(({ row }) => row.id),
        ...columns.map((column) => changes.map(({ persisted }) => persisted.get(column))),
      ];
      const names = columns.map((column) => `"${column.databaseName}"`);
      // The column's own type, length included: a bare `character` cast would cut 'BRL' to 'B'.
      const casts = columns.map(
        (column, i) =>
          `$${i + 2}::${driver.normalizeType(column)}${column.length ? `(${column.length})` : ''}[]`,
      );
      await tx.query(
        `UPDATE billing.topups t SET ${names.map((name) => `${name} = v.${name}`).join(', ')}
         FROM unnest($1::uuid[], ${casts.join(', ')}) AS v(id, ${names.join(', ')})
         WHERE t.id = v.id`,
        arrays,
      );
    }
    for (const { row, persisted } of changes) this.remember(row, persisted);
  }

  /** What `row` would persist, and which of those values differ from what it was loaded as. */
  private changesOf(row: TopupEntity): {
    changed: ColumnMetadata[];
    persisted: Map<ColumnMetadata, unknown>;
  } {
    const loaded = this.loaded.get(row);
    const driver = this.dataSource.driver;
    const persisted = new Map<ColumnMetadata, unknown>();
    const changed: ColumnMetadata[] = [];
    for (const column of this.columns) {
      const value = driver.preparePersistentValue(column.getEntityValue(row), column);
      persisted.set(column, value);
      if (!column.isPrimary && comparable(value) !== loaded?.get(column)) changed.push(column);
    }
    return { changed, persisted };
  }

  private remember(row: TopupEntity, persisted: Map<ColumnMetadata, unknown>): void {
    this.loaded.set(row, new Map([...persisted].map(([column, value]) => [column, comparable(value)])));
  }

  lockById(tx: EntityManager, id: string, provider?: PaymentsProvider): Promise<TopupEntity | null> {
    return provider
      ? this.lockWhere(tx, 'id = $1 AND provider = $2', [id, provider])
      : this.lockWhere(tx, 'id = $1', [id]);
  }

  /** By the unique (provider, provider_payment_id) key. */
  lockByProviderPayment(
    tx: EntityManager,
    provider: PaymentsProvider,
    providerPaymentId: string,
  ): Promise<TopupEntity | null> {
    return this.lockWhere(tx, 'provider = $1 AND provider_payment_id = $2', [provider, providerPaymentId]);
  }

  lockByStripeSession(tx: EntityManager, sessionId: string): Promise<TopupEntity | null> {
    return this.lockWhere(tx, `provider = 'stripe' AND provider_session_id = $1`, [sessionId]);
  }

  lockByStripePaymentIntent(tx: EntityManager, paymentIntentId: string): Promise<TopupEntity | null> {
    return this.lockWhere(tx, `provider = 'stripe' AND provider_payment_intent_id = $1`, [paymentIntentId]);
  }

  /**
   * The top-ups of many provider payments, locked in one statement in id order (a fixed order, so
   * two batches never wait on each other in a cycle), by provider payment id.
   */
  async lockManyByProviderPayment(
    tx: EntityManager,
    provider: PaymentsProvider,
    providerPaymentIds: readonly string[],
  ): Promise<Map<string, TopupEntity>> {
    if (providerPaymentIds.length === 0) return new Map();
    const rows = (await tx.query(
      `SELECT ${this.selectList} FROM billing.topups WHERE provider = $1 AND provider_payment_id = ANY($2::text[])
       ORDER BY id FOR UPDATE`,
      [provider, providerPaymentIds],
    )) as Array<Record<string, unknown>>;
    const locked = new Map<string, TopupEntity>();
    for (const raw of rows) {
      const row = this.hydrate(raw);
      if (row.providerPaymentId !== null) locked.set(row.providerPaymentId, row);
    }
    return locked;
  }

  private async lockWhere(tx: EntityManager, where: string, params: unknown[]): Promise<TopupEntity | null> {
    const rows = (await tx.query(
      `SELECT ${this.selectList} FROM billing.topups WHERE ${where} LIMIT 1 FOR UPDATE`,
      params,
    )) as Array<Record<string, unknown>>;
    return rows.length === 0 ? null : this.hydrate(rows[0]);
  }

  /** An entity from a raw row, with the same conversions TypeORM applies, remembered as loaded. */
  private hydrate(raw: Record<string, unknown>): TopupEntity {
    const driver = this.dataSource.driver;
    const row = new TopupEntity();
    const loaded = new Map<ColumnMetadata, unknown>();
    for (const column of this.columns) {
      column.setEntityValue(row, driver.prepareHydratedValue(raw[column.databaseName], column));
      loaded.set(column, comparable(driver.preparePersistentValue(column.getEntityValue(row), column)));
    }
    this.loaded.set(row, loaded);
    return row;
  }

  findById(id: string): Promise<TopupEntity | null> {
    return this.repo().findOne({ where: { id } });
  }

  findForTenant(tenantId: string, id: string): Promise<TopupEntity | null> {
    return this.repo().findOne({ where: { id, tenantId } });
  }

  /**
   * Newest first, keyset on (created_at, id); `limit + 1` rows so the caller knows if there is more,
   * each with its cursor time to the microsecond (`cursorAtSql`).
   */
  async pageForTenant(
    tenantId: string,
    limit: number,
    after: CursorPosition | null,
  ): Promise<Array<{ row: TopupEntity; cursorAt: string }>> {
    const query = this.repo()
      .createQueryBuilder('t')
      .where('t.tenant_id = :tenantId', { tenantId })
      .orderBy('t.created_at', 'DESC')
      .addOrderBy('t.id', 'DESC')
      .limit(limit + 1);
    if (after)
      query.andWhere('(t.created_at, t.id) < (:at::timestamptz, :id::uuid)', { at: after.at, id: after.id });
    return withCursorAt(query, 't.created_at');
  }

  /**
   * Takes the next pending top-ups for a reconciliation pass, least recently checked first, and
   * stamps them so the following pass starts with the others (no top-up waits behind a backlog).
   * Rows another transaction is applying right now are skipped, not waited for.
   */
  async claimPendingForReconciliation(limit: number, now: Date): Promise<TopupEntity[]> {
    const rows = (await this.dataSource.query(
      `UPDATE billing.topups t SET reconciled_at = $2
       FROM (SELECT id FROM billing.topups WHERE status = 'pending'
             ORDER BY reconciled_at NULLS FIRST, created_at LIMIT $1 FOR UPDATE SKIP LOCKED) p
       WHERE t.id = p.id
       RETURNING t.id`,
      [limit, now],
    )) as [Array<{ id: string }>, number] | Array<{ id: string }>;
    // pg through TypeORM answers UPDATE … RETURNING as [rows, count].
    const claimed = Array.isArray(rows[0])
      ? (rows[0] as Array<{ id: string }>)
      : (rows as Array<{ id: string }>);
    if (claimed.length === 0) return [];
    const found = await this.repo().findBy(claimed.map((r) => ({ id: r.id })));
    return found.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  }

  async countPending(): Promise<number> {
    return this.repo().count({ where: { status: 'pending' } });
  }
}
