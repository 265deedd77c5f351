import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  Max,
  Min,
  NotEquals,
} from 'class-validator';
import { PageQueryDto } from '@realapp/platform';

/** SPEC §13: non-zero, |amount| ≤ 100000000 cents. */
export const MAX_ADJUSTMENT_CENTS = 100_000_000;

const trimmed = Transform(({ value }: { value: unknown }) =>
  typeof value === 'string' ? value.trim() : value,
);

export class CreditAdjustmentDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all', { message: 'must be a UUID' })
  tenantId: string;

  @ApiProperty({
    description:
      'Signed integer cents: positive credits the wallet, negative debits it. Never an edit of an existing entry.',
    example: 5000,
    minimum: -MAX_ADJUSTMENT_CENTS,
    maximum: MAX_ADJUSTMENT_CENTS,
  })
  @IsInt({ message: 'must be an integer number of cents' })
  @NotEquals(0, { message: 'must not be zero' })
  @Min(-MAX_ADJUSTMENT_CENTS)
  @Max(MAX_ADJUSTMENT_CENTS)
  amountCents: number;

  @ApiProperty({
    description: 'Why (kept with the entry and in the audit log).',
    minLength: 3,
    maxLength: 500,
    example: 'Goodwill credit for ticket #4521',
  })
  @trimmed
  @IsString()
  @Length(3, 500, { message: 'must be 3 to 500 characters' })
  reason: string;

  @ApiPropertyOptional({
    description:
      'A debit beyond the available balance is refused (422 insufficient_balance) unless this is true.',
    default: false,
  })
  @IsOptional()
  @IsBoolean()
  allowNegative?: boolean;
}

export class AuditQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'credits.adjust' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_.:/ -]{1,200}$/)
  action?: string;

  @ApiPropertyOptional({ example: 'tenant:6f1b0c1e-…' })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  target?: string;
}

export class WalletTotalsView {
  @ApiProperty() balanceCents: number;
  @ApiProperty() heldCents: number;
  @ApiProperty() availableCents: number;
}

export class WorkerHeartbeatResponse {
  @ApiProperty() workerId: string;
  @ApiProperty({ format: 'date-time' }) lastHeartbeatAt: string;
  @ApiProperty() ageSeconds: number;
  @ApiProperty({ format: 'date-time' }) startedAt: string;
  @ApiProperty() hostname: string;
  @ApiProperty() version: string;
}

export class WorkerHealthResponse {
  @ApiProperty({ description: 'true while at least one worker heartbeat is under 60 s old' })
  healthy: boolean;
  @ApiProperty({
    type: [WorkerHeartbeatResponse],
    description: 'workers heard from in the last 24 h, freshest first',
  })
  workers: WorkerHeartbeatResponse[];
}

export class OpsMetricsResponse {
  @ApiProperty({
    description: 'Orders by status, every status present (zeros included)',
    example: {
      waiting_payment: 2,
      queued: 1,
      launching: 0,
      active: 7,
      paused: 1,
      completed: 30,
      stopped: 4,
      failed: 0,
    },
  })
  queueDepth: Record<string, number>;
  @ApiProperty({ description: 'Orders that failed to launch in the last hour' }) jobsFailedLastHour: number;
  @ApiProperty({ description: 'Webhook events failed or dead, last changed in the last hour' })
  webhooksFailedLastHour: number;
  @ApiProperty() deadLettersLast24h: number;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'Age of the freshest worker heartbeat; null if none ever',
  })
  workerHeartbeatAgeSeconds: number | null;
  @ApiProperty({ type: WalletTotalsView }) walletTotals: WalletTotalsView;
  @ApiProperty({ description: 'Age of the oldest unpublished outbox row' }) outboxLagSeconds: number;
  @ApiProperty({ example: { L1: 0, L2: 1, L3: 0 } }) openIncidents: Record<string, number>;
}

export class LedgerMismatchView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ enum: ['balance', 'held'] }) field: string;
  @ApiProperty() cachedCents: number;
  @ApiProperty() computedCents: number;
}

export class BrokenChainView {
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty() seq: number;
  @ApiProperty({ nullable: true, type: String }) entryId: string | null;
  @ApiProperty({
    enum: [
      'hash_mismatch',
      'prev_hash_mismatch',
      'seq_gap',
      'running_total_mismatch',
      'wallet_head_mismatch',
    ],
  })
  reason: string;
}

export class LedgerVerificationResponse {
  @ApiProperty() ok: boolean;
  @ApiProperty({ description: 'Number of wallets checked' }) wallets: number;
  @ApiProperty({ type: [LedgerMismatchView] }) mismatches: LedgerMismatchView[];
  @ApiProperty({ type: [BrokenChainView] }) brokenChains: BrokenChainView[];
}

export class CreditAdjustmentResponse {
  @ApiProperty({ format: 'uuid', description: 'The ledger entry' }) id: string;
  @ApiProperty({ format: 'uuid' }) tenantId: string;
  @ApiProperty({ enum: ['adjustment'] }) kind: 'adjustment';
  @ApiProperty() amountCents: number;
  @ApiProperty() balanceAfterCents: number;
  @ApiProperty() reference: string;
  @ApiProperty() reason: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;
  @ApiProperty({ type: WalletTotalsView }) wallet: WalletTotalsView;
}

export class IncidentResolveDto {
  @ApiPropertyOptional({ maxLength: 500 })
  @IsOptional()
  @trimmed
  @IsString()
  @Length(1, 500)
  note?: string;
}
