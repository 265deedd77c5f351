import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiGoneResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { AuthContext, CurrentAuth, Roles } from '@realapp/auth-guard';
import { InviteResponse, SessionResponse } from '../shared/views';
import { AcceptInviteRequest, CreateInviteRequest } from './invites.dto';
import { InviteService } from './invite.service';

@ApiTags('auth')
@Controller('v1/auth/invites')
export class InvitesController {
  constructor(private readonly invites: InviteService) {}

  @Post()
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Invite someone to the caller’s tenant as admin or member' })
  @ApiCreatedResponse({ type: InviteResponse })
  @ApiConflictResponse({ description: 'email_taken' })
  create(@CurrentAuth() auth: AuthContext, @Body() body: CreateInviteRequest): Promise<InviteResponse> {
    return this.invites.createFor(auth.tenantId, body.email, body.role, auth.userId);
  }

  @Post('accept')
  @HttpCode(200)
  @ApiOperation({ summary: 'Accept an invite: creates the account and logs it in' })
  @ApiOkResponse({ type: SessionResponse })
  @ApiGoneResponse({ description: 'invite_unusable: spent, expired or unknown' })
  @ApiConflictResponse({ description: 'email_taken' })
  accept(@Body() body: AcceptInviteRequest): Promise<SessionResponse> {
    return this.invites.accept(body.token, body.password, body.name);
  }
}
