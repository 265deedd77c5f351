import { Body, Controller, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext, Authenticated, CurrentAuth, Roles } from '@realapp/auth-guard';
import { validationFailed } from '@realapp/platform';
import { FLOW_DOMAIN_PATTERN, FlowsService, FlowView } from '@realapp/whatsapp';
import { FlowDto, FlowQueryDto, SaveFlowDto } from './whatsapp.dto';

function domainOf(value: string): string {
  if (!FLOW_DOMAIN_PATTERN.test(value)) {
    throw validationFailed([{ field: 'domain', message: 'must be lowercase letters, digits and _ (starting with a letter)' }]);
  }
  return value;
}

/** SPEC §14, §16: versioned chatbot flows; changes are for owners and admins. */
@ApiTags('whatsapp')
@Controller('v1/whatsapp/flows')
@Authenticated()
export class FlowsController {
  constructor(private readonly flows: FlowsService) {}

  @Get()
  @ApiOperation({ summary: 'The latest version (draft or published) of the flow for a domain, or the given version' })
  @ApiOkResponse({ type: FlowDto })
  get(@CurrentAuth() auth: AuthContext, @Query() query: FlowQueryDto): Promise<FlowView> {
    return this.flows.latest(auth.tenantId, query.domain, query.version);
  }

  @Put(':domain')
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Save a new draft version (start and every next must exist, no unreachable node)' })
  @ApiOkResponse({ type: FlowDto })
  save(@CurrentAuth() auth: AuthContext, @Param('domain') domain: string, @Body() body: SaveFlowDto): Promise<FlowView> {
    return this.flows.saveDraft(auth.tenantId, domainOf(domain), { ...body }, auth.userId);
  }

  @Post(':domain/publish')
  @HttpCode(200)
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Publish the latest version; the next inbound message is answered with it' })
  @ApiOkResponse({ type: FlowDto })
  publish(@CurrentAuth() auth: AuthContext, @Param('domain') domain: string): Promise<FlowView> {
    return this.flows.publish(auth.tenantId, domainOf(domain));
  }
}
