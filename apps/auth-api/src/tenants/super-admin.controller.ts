import { Body, Controller, Get, Param, Post, Query, UseGuards } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import { PageQueryDto, SuperAdminKeyGuard } from '@realapp/platform';
import { CreateTenantResponse, InviteResponse, TenantPage, WhatsAppNumberView } from '../shared/views';
import { CreateTenantRequest, InviteAdminRequest, MapWhatsAppNumberRequest } from './tenants.dto';
import { TenantService } from './tenant.service';
import { WhatsAppNumberService } from './whatsapp-number.service';

@ApiTags('super-admin')
@ApiSecurity('super-admin-key')
@UseGuards(SuperAdminKeyGuard)
@Controller('v1/super/tenants')
export class SuperAdminController {
  constructor(
    private readonly tenants: TenantService,
    private readonly numbers: WhatsAppNumberService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a tenant, optionally inviting its admin' })
  @ApiCreatedResponse({ type: CreateTenantResponse })
  create(@Body() body: CreateTenantRequest): Promise<CreateTenantResponse> {
    return this.tenants.create(body.name, body.adminEmail);
  }

  @Get()
  @ApiOkResponse({ type: TenantPage })
  list(@Query() query: PageQueryDto): Promise<TenantPage> {
    return this.tenants.list(query.limit, query.cursor);
  }

  @Post(':tenantId/invite-admin')
  @ApiOperation({ summary: 'Invite an admin to an existing tenant' })
  @ApiCreatedResponse({ type: InviteResponse })
  @ApiNotFoundResponse({ description: 'not_found: no such tenant' })
  @ApiConflictResponse({ description: 'email_taken' })
  inviteAdmin(
    @Param('tenantId') tenantId: string,
    @Body() body: InviteAdminRequest,
  ): Promise<InviteResponse> {
    return this.tenants.inviteAdmin(tenantId, body.email);
  }

  @Post(':tenantId/whatsapp-accounts')
  @ApiOperation({ summary: 'Route a WhatsApp number to this tenant' })
  @ApiCreatedResponse({ type: WhatsAppNumberView })
  @ApiNotFoundResponse({ description: 'not_found: no such tenant' })
  @ApiConflictResponse({ description: 'whatsapp_number_taken: mapped to another tenant' })
  mapWhatsAppNumber(
    @Param('tenantId') tenantId: string,
    @Body() body: MapWhatsAppNumberRequest,
  ): Promise<WhatsAppNumberView> {
    return this.numbers.map(tenantId, body);
  }
}
