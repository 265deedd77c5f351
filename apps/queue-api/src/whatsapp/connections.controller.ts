import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext, Authenticated, CurrentAuth, Roles } from '@realapp/auth-guard';
import { Page, PageQueryDto } from '@realapp/platform';
import { ConnectionsService, ConnectionView, TokenCheckView } from '@realapp/whatsapp';
import { ConnectionDto, ConnectionPageDto, TokenCheckDto } from './whatsapp.dto';

/** SPEC §14: the tenant's WhatsApp connections. */
@ApiTags('whatsapp')
@Controller('v1/whatsapp/connections')
@Authenticated()
export class ConnectionsController {
  constructor(private readonly connections: ConnectionsService) {}

  @Get()
  @ApiOperation({ summary: "The tenant's connections, newest first" })
  @ApiOkResponse({ type: ConnectionPageDto })
  list(@CurrentAuth() auth: AuthContext, @Query() page: PageQueryDto): Promise<Page<ConnectionView>> {
    return this.connections.list(auth.tenantId, page.limit, page.cursor);
  }

  @Get(':id')
  @ApiOkResponse({ type: ConnectionDto })
  get(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<ConnectionView> {
    return this.connections.get(auth.tenantId, id);
  }

  @Post(':id/check')
  @HttpCode(200)
  @ApiOperation({ summary: "Check the business token with Meta now (debug_token) and update the connection's status" })
  @ApiOkResponse({ type: TokenCheckDto })
  check(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<TokenCheckView> {
    return this.connections.check(auth.tenantId, id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Unsubscribe the app and mark the connection disconnected (it stays readable)' })
  @ApiNoContentResponse()
  async disconnect(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<void> {
    await this.connections.disconnect(auth.tenantId, id);
  }
}
