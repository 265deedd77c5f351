import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext, Authenticated, CurrentAuth } from '@realapp/auth-guard';
import { Page, PageQueryDto } from '@realapp/platform';
import { ConversationsService, ConversationView } from '@realapp/whatsapp';
import { ConversationPageDto } from './whatsapp.dto';

/** SPEC §14, §16: recent conversations with their messages. */
@ApiTags('whatsapp')
@Controller('v1/whatsapp/conversations')
@Authenticated()
export class ConversationsController {
  constructor(private readonly conversations: ConversationsService) {}

  @Get()
  @ApiOperation({ summary: 'Conversations by latest activity, each with its recent messages (inbound and replies)' })
  @ApiOkResponse({ type: ConversationPageDto })
  list(@CurrentAuth() auth: AuthContext, @Query() page: PageQueryDto): Promise<Page<ConversationView>> {
    return this.conversations.list(auth.tenantId, page.limit, page.cursor);
  }
}
