import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext, Authenticated, CurrentAuth, Roles } from '@realapp/auth-guard';
import { SubscribeResult, SubscriptionService, SubscriptionView } from '@realapp/payments';
import { Idempotent } from '@realapp/platform';
import { SubscribeRequestDto, SubscribeResponseDto, SubscriptionDto } from './billing.dto';

/** SPEC §5 subscriptions (Mercado Pago pre-approvals). Changes are for owners and admins (§16). */
@ApiTags('billing')
@Controller('v1/billing/subscription')
@Authenticated()
export class SubscriptionController {
  constructor(private readonly subscriptions: SubscriptionService) {}

  @Get()
  @ApiOperation({ summary: 'The current subscription (status none when never subscribed)' })
  @ApiOkResponse({ type: SubscriptionDto })
  current(@CurrentAuth() auth: AuthContext): Promise<SubscriptionView> {
    return this.subscriptions.getCurrent(auth.tenantId);
  }

  @Post()
  @HttpCode(201)
  @Roles('owner', 'admin')
  @Idempotent()
  @ApiOperation({ summary: 'Subscribe or change plan: a Mercado Pago checkout to authorize' })
  @ApiCreatedResponse({ type: SubscribeResponseDto })
  subscribe(@CurrentAuth() auth: AuthContext, @Body() body: SubscribeRequestDto): Promise<SubscribeResult> {
    return this.subscriptions.subscribe(auth.tenantId, body.planId);
  }

  @Post('cancel')
  @HttpCode(200)
  @Roles('owner', 'admin')
  @ApiOperation({ summary: 'Cancel at period end' })
  @ApiOkResponse({ type: SubscriptionDto })
  cancel(@CurrentAuth() auth: AuthContext): Promise<SubscriptionView> {
    return this.subscriptions.cancel(auth.tenantId);
  }
}
