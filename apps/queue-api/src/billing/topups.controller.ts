import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext, Authenticated, CurrentAuth } from '@realapp/auth-guard';
import { TopupService, TopupView } from '@realapp/payments';
import { Idempotent, Page, PageQueryDto } from '@realapp/platform';
import { TopupDto, TopupPageDto, TopupRequestDto } from './billing.dto';

/** SPEC §5 top-ups: PIX through Mercado Pago, card through Stripe Checkout. */
@ApiTags('billing')
@Controller('v1/billing')
@Authenticated()
export class TopupsController {
  constructor(private readonly topups: TopupService) {}

  @Post('topups/pix')
  @HttpCode(201)
  @Idempotent()
  @ApiOperation({ summary: 'PIX top-up: a copy-and-paste code to pay' })
  @ApiCreatedResponse({ type: TopupDto })
  createPix(@CurrentAuth() auth: AuthContext, @Body() body: TopupRequestDto): Promise<TopupView> {
    return this.topups.createPix(auth.tenantId, body.amountCents);
  }

  @Post('checkout-session')
  @HttpCode(201)
  @Idempotent()
  @ApiOperation({ summary: 'Card top-up: a Stripe Checkout URL to pay at' })
  @ApiCreatedResponse({ type: TopupDto })
  createCheckout(@CurrentAuth() auth: AuthContext, @Body() body: TopupRequestDto): Promise<TopupView> {
    return this.topups.createCheckout(auth.tenantId, body.amountCents);
  }

  @Get('topups')
  @ApiOperation({ summary: "The tenant's top-ups, newest first" })
  @ApiOkResponse({ type: TopupPageDto })
  list(@CurrentAuth() auth: AuthContext, @Query() page: PageQueryDto): Promise<Page<TopupView>> {
    return this.topups.list(auth.tenantId, page);
  }

  @Get('topups/:id')
  @ApiOperation({ summary: 'One top-up (404 for another tenant’s)' })
  @ApiOkResponse({ type: TopupDto })
  get(@CurrentAuth() auth: AuthContext, @Param('id') id: string): Promise<TopupView> {
    return this.topups.get(auth.tenantId, id);
  }
}
