import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { LedgerModule } from '@realapp/ledger';
import { CreditAdjustmentService } from './credit-adjustment.service';
import { OpsAuditController } from './ops-audit.controller';
import { OpsAuditInterceptor } from './ops-audit.interceptor';
import { OpsAuditService } from './ops-audit.service';
import { OpsCreditsController } from './ops-credits.controller';
import { OpsDeadLettersController } from './ops-dead-letters.controller';
import { OpsHealthController } from './ops-health.controller';
import { OpsIncidentsController } from './ops-incidents.controller';
import { OpsMetricsCollector } from './ops-metrics.collector';
import { OpsReadService } from './ops-read.service';

/**
 * The ops API on queue-api (SPEC §9, §13), behind X-Ops-Key: worker health, metrics, dead letters,
 * credit adjustments, ledger verification, incidents and the audit log. Every state-changing
 * `/v1/ops/*` call on this service is audited, whichever module serves it.
 */
@Module({
  imports: [LedgerModule],
  controllers: [
    OpsHealthController,
    OpsDeadLettersController,
    OpsCreditsController,
    OpsIncidentsController,
    OpsAuditController,
  ],
  providers: [
    OpsReadService,
    OpsAuditService,
    CreditAdjustmentService,
    OpsMetricsCollector,
    { provide: APP_INTERCEPTOR, useClass: OpsAuditInterceptor },
  ],
  exports: [OpsReadService, OpsAuditService],
})
export class OpsModule {}
