import { Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiAcceptedResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { OpsKeyGuard, Page } from '@realapp/platform';
import { WebhookEventStore, WebhookEventView } from '@realapp/webhooks';
import { WebhookEventsQueryDto } from './webhook-events.query';

/** SPEC §7, §13: what the gateway stored and how processing went; replay on demand. */
@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops/webhook-events')
export class WebhookEventsOpsController {
  constructor(private readonly events: WebhookEventStore) {}

  @Get()
  @ApiOperation({ summary: 'Stored webhook events, newest first, by status and provider' })
  @ApiOkResponse({ description: '`{items: [{id, provider, providerEventId, type, status, attempts, lastError, receivedAt, processedAt}], nextCursor}`' })
  list(@Query() query: WebhookEventsQueryDto): Promise<Page<WebhookEventView>> {
    return this.events.list({ status: query.status, provider: query.provider, limit: query.limit, cursor: query.cursor });
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ summary: 'Publish a stored event again (consumers are idempotent)' })
  @ApiAcceptedResponse({ description: 'The event view, status `received` until the worker processes it again' })
  @ApiNotFoundResponse({ description: 'No such event' })
  replay(@Param('id') id: string): Promise<WebhookEventView> {
    return this.events.replay(id);
  }
}
