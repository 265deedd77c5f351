import { Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { DeadLetterService, DeadLetterView } from '@realapp/messaging';
import { OpsKeyGuard, Page, PageQueryDto } from '@realapp/platform';
import { AuditAction } from './ops-audit.interceptor';

/** SPEC §8, §13: messages that ran out of attempts, and replaying them once the cause is fixed. */
@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops/dead-letters')
export class OpsDeadLettersController {
  constructor(private readonly deadLetters: DeadLetterService) {}

  @Get()
  @ApiOperation({ summary: 'Dead letters, newest first' })
  @ApiOkResponse({
    description:
      '`{items: [{id, queue, messageId, type, attempts, lastError, deadAt, replayedAt, replayCount, envelope}], nextCursor}`',
  })
  list(@Query() query: PageQueryDto): Promise<Page<DeadLetterView>> {
    return this.deadLetters.list(query.limit, query.cursor);
  }

  @Post(':id/replay')
  @HttpCode(202)
  @AuditAction('dead_letters.replay')
  @ApiOperation({
    summary:
      'Send a dead letter back to its queue with a fresh attempt count (always safe: consumers are idempotent)',
  })
  @ApiAcceptedResponse({ description: 'The dead letter, with replayedAt and replayCount updated' })
  @ApiNotFoundResponse({ description: 'No such dead letter' })
  replay(@Param('id') id: string): Promise<DeadLetterView> {
    return this.deadLetters.replay(id);
  }
}
