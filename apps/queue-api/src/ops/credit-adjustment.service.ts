import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { OrdersReevaluationRequested } from '@realapp/contracts';
import { LedgerService } from '@realapp/ledger';
import { OutboxService } from '@realapp/messaging';
import { AppError } from '@realapp/platform';
import { CreditAdjustmentDto, CreditAdjustmentResponse } from './ops.dto';
import { OpsAuditService } from './ops-audit.service';

export interface AdjustmentActor {
  actor: string;
  correlationId: string;
  idempotencyKey: string;
}

/**
 * Ops corrections of a wallet (seed 004: "use an adjustment entry, never mutate old rows"): one
 * new `adjustment` entry, its audit row and, for a credit, the request to re-evaluate the tenant's
 * waiting orders, all in one transaction.
 */
@Injectable()
export class CreditAdjustmentService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: LedgerService,
    private readonly outbox: OutboxService,
    private readonly audit: OpsAuditService,
  ) {}

  /**
   * The ledger reference derives from the Idempotency-Key, so the same key can never post twice,
   * even after the idempotency record itself has expired.
   */
  static reference(idempotencyKey: string): string {
    return `ops:adjustment:${createHash('sha256').update(idempotencyKey, 'utf8').digest('hex').slice(0, 40)}`;
  }

  /** `audited` is false when the reference already existed: nothing moved and nothing was written. */
  async adjust(
    input: CreditAdjustmentDto,
    by: AdjustmentActor,
  ): Promise<{ view: CreditAdjustmentResponse; audited: boolean }> {
    const reference = CreditAdjustmentService.reference(by.idempotencyKey);
    return this.dataSource.transaction(async (tx) => {
      // auth-api owns tenants; reading them keeps a typo in tenantId from creating a wallet for nobody.
      const tenant = (await tx.query(`SELECT 1 FROM auth.tenants WHERE id = $1`, [
        input.tenantId,
      ])) as unknown[];
      if (tenant.length === 0) throw new AppError('tenant_not_found', 404, 'No tenant has this id.');

      const metadata = { reason: input.reason, actor: by.actor, correlationId: by.correlationId };
      const posting =
        input.amountCents > 0
          ? await this.ledger.credit(tx, {
              tenantId: input.tenantId,
              kind: 'adjustment',
              amountCents: input.amountCents,
              reference,
              metadata,
            })
          : await this.ledger.debit(tx, {
              tenantId: input.tenantId,
              kind: 'adjustment',
              amountCents: -input.amountCents,
              reference,
              metadata,
              allowNegative: input.allowNegative === true,
            });
      if (posting.applied) {
        if (input.amountCents > 0) {
          await this.outbox.enqueue(tx, OrdersReevaluationRequested, {
            tenantId: input.tenantId,
            data: { tenantId: input.tenantId, cause: 'adjustment', reference },
          });
        }
        await this.audit.write(
          {
            actor: by.actor,
            action: 'credits.adjust',
            target: `tenant:${input.tenantId}`,
            details: {
              amountCents: input.amountCents,
              reason: input.reason,
              entryId: posting.entry.id,
              reference,
              allowNegative: input.allowNegative === true,
            },
            correlationId: by.correlationId,
          },
          tx,
        );
      }
      const wallet = await this.ledger.getWallet(input.tenantId, tx);
      const view: CreditAdjustmentResponse = {
        id: posting.entry.id,
        tenantId: posting.entry.tenantId,
        kind: 'adjustment',
        amountCents: posting.entry.amountCents,
        balanceAfterCents: posting.entry.balanceAfterCents,
        reference: posting.entry.reference,
        reason:
          typeof posting.entry.metadata.reason === 'string' ? posting.entry.metadata.reason : input.reason,
        createdAt: posting.entry.createdAt.toISOString(),
        wallet: {
          balanceCents: wallet.balanceCents,
          heldCents: wallet.heldCents,
          availableCents: wallet.availableCents,
        },
      };
      return { view, audited: posting.applied };
    });
  }
}
