import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, UseGuards } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { IncidentService, IncidentView, OpsKeyGuard, Page, PageQueryDto } from '@realapp/platform';
import { IncidentResolveDto } from './ops.dto';
import { AuditAction, auditActor, OpsRequest } from './ops-audit.interceptor';

/** SPEC §9, §13: recurring errors by fingerprint, with their level and reports. */
@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops/incidents')
export class OpsIncidentsController {
  constructor(private readonly incidents: IncidentService) {}

  @Get()
  @ApiOperation({ summary: 'Open incidents (not resolved, seen in the last hour), newest first' })
  @ApiOkResponse({
    description:
      '`{items: [{id, level: "L1"|"L2"|"L3", fingerprint, count, firstSeenAt, lastSeenAt, sample, code, place, status, services, reports, resolvedAt}], nextCursor}`',
  })
  list(@Query() query: PageQueryDto): Promise<Page<IncidentView>> {
    return this.incidents.listOpen(query.limit, query.cursor);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One incident, open or resolved, with the report files written for it' })
  @ApiNotFoundResponse({ description: 'No such incident' })
  find(@Param('id') id: string): Promise<IncidentView> {
    return this.incidents.find(id);
  }

  @Post(':id/resolve')
  @HttpCode(200)
  @AuditAction('incidents.resolve')
  @ApiOperation({
    summary: 'Close an incident once handled; the next occurrences of its fingerprint start a new count',
  })
  @ApiNotFoundResponse({ description: 'No such incident' })
  resolve(
    @Param('id') id: string,
    @Body() _body: IncidentResolveDto,
    @Req() request: OpsRequest,
  ): Promise<IncidentView> {
    return this.incidents.resolve(id, auditActor(request));
  }
}
