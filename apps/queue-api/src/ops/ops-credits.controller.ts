import { Body, Controller, Get, Headers, HttpCode, Post, Req, UseGuards } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { LedgerService, LedgerVerification } from '@realapp/ledger';
import { currentCorrelationId, Idempotent, OpsKeyGuard } from '@realapp/platform';
import { CreditAdjustmentService } from './credit-adjustment.service';
import { CreditAdjustmentDto, CreditAdjustmentResponse, LedgerVerificationResponse } from './ops.dto';
import { AuditAction, auditActor, bodyTenant, OpsRequest } from './ops-audit.interceptor';

/** SPEC §9, §13: corrections as new `adjustment` entries, and proof that every wallet adds up. */
@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops')
export class OpsCreditsController {
  constructor(
    private readonly adjustments: CreditAdjustmentService,
    private readonly ledger: LedgerService,
  ) {}

  @Post('credits/adjust')
  @HttpCode(201)
  @Idempotent()
  @AuditAction('credits.adjust', bodyTenant)
  @ApiOperation({
    summary: 'Post an adjustment entry (either sign) to a tenant wallet; never edits an existing entry',
  })
  @ApiCreatedResponse({ type: CreditAdjustmentResponse })
  @ApiNotFoundResponse({ description: '`tenant_not_found`' })
  @ApiUnprocessableEntityResponse({
    description: '`insufficient_balance` for a debit beyond the available amount without allowNegative',
  })
  async adjust(
    @Body() body: CreditAdjustmentDto,
    @Headers('idempotency-key') idempotencyKey: string,
    @Req() request: OpsRequest,
  ): Promise<CreditAdjustmentResponse> {
    const { view, audited } = await this.adjustments.adjust(body, {
      actor: auditActor(request),
      correlationId: currentCorrelationId() ?? 'unknown',
      idempotencyKey,
    });
    request.opsAudited = audited;
    return view;
  }

  @Get('ledger/verify')
  @ApiOperation({ summary: 'Recompute every wallet from its entries and check every hash chain' })
  @ApiOkResponse({ type: LedgerVerificationResponse })
  verify(): Promise<LedgerVerification> {
    return this.ledger.verifyAll();
  }
}
