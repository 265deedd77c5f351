import { Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { TopupReconciliationRequested } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { TopupService } from '@realapp/payments';
import { OpsKeyGuard } from '@realapp/platform';

export interface ReconcileAccepted {
  /** Pending top-ups the pass will check. */
  pending: number;
}

/**
 * SPEC §9, §13: start a top-up reconciliation pass now. The API only asks (an outbox event in the
 * same transaction as the count); one worker replica runs the pass under its advisory lock.
 */
@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops/billing/topups')
export class TopupReconciliationController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly topups: TopupService,
    private readonly outbox: OutboxService,
  ) {}

  @Post('reconcile')
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a top-up reconciliation pass now' })
  @ApiAcceptedResponse({ description: '`{pending}`: the pending top-ups the pass will check' })
  async reconcile(): Promise<ReconcileAccepted> {
    const pending = await this.topups.countPending();
    await this.dataSource.transaction((tx) =>
      this.outbox.enqueue(tx, TopupReconciliationRequested, { tenantId: null, data: { trigger: 'ops', pending } }),
    );
    return { pending };
  }
}
