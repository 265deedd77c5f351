import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { OpsKeyGuard, Page } from '@realapp/platform';
import { AuditQueryDto } from './ops.dto';
import { AuditEntryView, OpsAuditService } from './ops-audit.service';

@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops/audit')
export class OpsAuditController {
  constructor(private readonly audit: OpsAuditService) {}

  @Get()
  @ApiOperation({
    summary:
      'Every state-changing ops call, newest first: who (key fingerprint), when, what, on what, correlation id',
  })
  @ApiOkResponse({
    description: '`{items: [{id, at, actor, action, target, details, correlationId}], nextCursor}`',
  })
  list(@Query() query: AuditQueryDto): Promise<Page<AuditEntryView>> {
    return this.audit.list(query);
  }
}
