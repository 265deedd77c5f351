import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiGoneResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext, CurrentAuth, Roles } from '@realapp/auth-guard';
import { Idempotent, validationFailed } from '@realapp/platform';
import { ConnectionView, OnboardingService, OnboardingSessionView } from '@realapp/whatsapp';
import { CompleteOnboardingDto, ConnectionDto, OnboardingSessionDto } from './whatsapp.dto';

/**
 * SPEC §16: the session is opened with `{}` (or no body). A DTO without properties cannot say
 * that to class-validator, so the check is made here, with the usual answer for unknown fields.
 */
function requireEmptyBody(body: unknown): void {
  if (body === undefined || body === null) return;
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw validationFailed([{ field: 'body', message: 'must be an empty object' }]);
  }
  const fields = Object.keys(body);
  if (fields.length > 0) throw validationFailed(fields.map((field) => ({ field, message: 'unknown field' })));
}

/** SPEC §14, §16: Embedded Signup for owners and admins. */
@ApiTags('whatsapp')
@Controller('v1/whatsapp/onboarding')
@Roles('owner', 'admin')
export class OnboardingController {
  constructor(private readonly onboarding: OnboardingService) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Start an Embedded Signup session (30 minutes)' })
  @ApiBody({ required: false, schema: { type: 'object', additionalProperties: false, example: {} } })
  @ApiCreatedResponse({ type: OnboardingSessionDto })
  start(@CurrentAuth() auth: AuthContext, @Body() body: unknown): Promise<OnboardingSessionView> {
    requireEmptyBody(body);
    return this.onboarding.start(auth.tenantId, auth.userId);
  }

  @Post(':id/complete')
  @HttpCode(201)
  @Idempotent()
  @ApiOperation({
    summary: 'Complete the signup: exchange the code, store the token encrypted, subscribe the app, create the connection',
  })
  @ApiCreatedResponse({ type: ConnectionDto })
  @ApiGoneResponse({ description: 'onboarding_session_unusable: expired or already completed' })
  complete(@CurrentAuth() auth: AuthContext, @Param('id') id: string, @Body() body: CompleteOnboardingDto): Promise<ConnectionView> {
    return this.onboarding.complete(auth.tenantId, id, body);
  }
}
