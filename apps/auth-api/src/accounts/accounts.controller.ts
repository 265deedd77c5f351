import { Body, Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { Authenticated, AuthContext, CurrentAuth } from '@realapp/auth-guard';
import { MeResponse, SessionResponse } from '../shared/views';
import { LoginRequest, RefreshRequest, SignupRequest } from './accounts.dto';
import { AccountsService } from './accounts.service';

@ApiTags('auth')
@Controller('v1/auth')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post('signup')
  @ApiOperation({ summary: 'Create a tenant with the caller as its owner' })
  @ApiCreatedResponse({ type: SessionResponse })
  @ApiConflictResponse({ description: 'email_taken' })
  signup(@Body() body: SignupRequest): Promise<SessionResponse> {
    return this.accounts.signup(body);
  }

  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Exchange e-mail and password for a token pair' })
  @ApiOkResponse({ type: SessionResponse })
  @ApiUnauthorizedResponse({ description: 'invalid_credentials' })
  @ApiTooManyRequestsResponse({ description: 'too_many_attempts (with Retry-After)' })
  login(@Body() body: LoginRequest, @Req() request: FastifyRequest): Promise<SessionResponse> {
    return this.accounts.login(body, request.ip);
  }

  @Post('refresh')
  @HttpCode(200)
  @ApiOperation({ summary: 'Spend a refresh token for a new pair' })
  @ApiOkResponse({ type: SessionResponse })
  @ApiUnauthorizedResponse({
    description: 'invalid_token, or refresh_token_reused (the whole login is revoked)',
  })
  refresh(@Body() body: RefreshRequest): Promise<SessionResponse> {
    return this.accounts.refresh(body.refreshToken);
  }

  @Post('logout')
  @HttpCode(204)
  @Authenticated()
  @ApiOperation({ summary: 'Revoke every refresh token of this login' })
  @ApiNoContentResponse()
  async logout(@CurrentAuth() auth: AuthContext, @Body() body: RefreshRequest): Promise<void> {
    await this.accounts.logout(auth, body.refreshToken);
  }

  @Get('me')
  @Authenticated()
  @ApiOkResponse({ type: MeResponse })
  me(@CurrentAuth() auth: AuthContext): Promise<MeResponse> {
    return this.accounts.me(auth);
  }
}
