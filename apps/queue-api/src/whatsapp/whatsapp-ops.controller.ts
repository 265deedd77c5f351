import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { OpsKeyGuard, Page, PageQueryDto } from '@realapp/platform';
import { ClaimedOrphanView, ConnectionsService, OrphanView } from '@realapp/whatsapp';
import { ClaimedOrphanDto, ClaimOrphanDto, OrphanPageDto } from './whatsapp.dto';

/** SPEC §14: connections Meta reported with no session and no tenant, for ops to attach. */
@ApiTags('ops')
@ApiSecurity('ops-key')
@UseGuards(OpsKeyGuard)
@Controller('v1/ops/whatsapp')
export class WhatsAppOpsController {
  constructor(private readonly connections: ConnectionsService) {}

  @Get('orphans')
  @ApiOperation({ summary: 'Orphan ("phantom") connections, newest first' })
  @ApiOkResponse({ type: OrphanPageDto })
  orphans(@Query() page: PageQueryDto): Promise<Page<OrphanView>> {
    return this.connections.listOrphans(page.limit, page.cursor);
  }

  @Post('orphans/:id/claim')
  @HttpCode(200)
  @ApiOperation({ summary: "Attach an orphan to a tenant: it leaves this list and appears in the tenant's connections" })
  @ApiOkResponse({ type: ClaimedOrphanDto })
  @ApiNotFoundResponse({ description: 'No such orphan' })
  claim(@Param('id') id: string, @Body() body: ClaimOrphanDto): Promise<ClaimedOrphanView> {
    return this.connections.claimOrphan(id, body.tenantId.toLowerCase());
  }

  @Post('tokens/reencrypt')
  @HttpCode(200)
  @ApiOperation({ summary: 'Key rotation: re-encrypt every stored token still sealed under a retired key (docs/whatsapp.md)' })
  @ApiOkResponse({ description: '`{resealed, remaining, failed}`' })
  reencrypt(): Promise<{ resealed: number; remaining: number; failed: number }> {
    return this.connections.resealTokens();
  }
}
