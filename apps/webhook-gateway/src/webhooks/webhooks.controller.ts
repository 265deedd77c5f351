import { Controller, Get, Header, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AppError, matchesAnyKey, SignedWebhook } from '@realapp/platform';
import { WebhookGatewayConfig } from '../config';
import { rawWebhookOf } from './raw-body';
import { WebhookIntakeService } from './webhook-intake.service';

export interface Received {
  received: true;
}
export const RECEIVED: Received = Object.freeze({ received: true });
const MAX_CHALLENGE_LENGTH = 512;

/**
 * The providers' doors (SPEC §7). Handlers take the raw request: no DTO, no class-validator,
 * nothing parsed before the signature holds. The POST routes are declared here (OpenAPI, and the
 * request with an `Origin` that goes through Fastify for CORS), but served bare in the common case
 * (bare-webhook-routes.ts).
 */
@ApiTags('webhooks')
@Controller('v1/webhooks')
export class WebhooksController {
  private readonly verifyToken: string;

  constructor(
    private readonly intake: WebhookIntakeService,
    config: WebhookGatewayConfig,
  ) {
    this.verifyToken = config.META_WEBHOOK_VERIFY_TOKEN;
  }

  // Never refused by the per-IP limit; a failed signature counts against it (SPEC §16).
  @SignedWebhook()
  @Post('mercadopago')
  @HttpCode(200)
  @ApiOperation({ summary: 'Mercado Pago notification (x-signature over data.id, x-request-id and ts)' })
  @ApiOkResponse({ description: 'Stored durably (or already stored): `{received: true}`' })
  async mercadoPago(@Req() request: FastifyRequest): Promise<Received> {
    await this.intake.accept('mercadopago', rawWebhookOf(request));
    return RECEIVED;
  }

  @SignedWebhook()
  @Post('stripe')
  @HttpCode(200)
  @ApiOperation({ summary: 'Stripe event (Stripe-Signature over "<t>.<raw body>")' })
  @ApiOkResponse({ description: 'Stored durably (or already stored): `{received: true}`' })
  async stripe(@Req() request: FastifyRequest): Promise<Received> {
    await this.intake.accept('stripe', rawWebhookOf(request));
    return RECEIVED;
  }

  @SignedWebhook()
  @Post('meta')
  @HttpCode(200)
  @ApiOperation({ summary: 'Meta / WhatsApp notification (X-Hub-Signature-256 over the raw body)' })
  @ApiOkResponse({ description: 'Stored durably (or already stored): `{received: true}`' })
  async meta(@Req() request: FastifyRequest): Promise<Received> {
    await this.intake.accept('meta', rawWebhookOf(request));
    return RECEIVED;
  }

  /** Meta's subscription handshake: echo the challenge when the verify token matches. */
  @Get('meta')
  @Header('content-type', 'text/plain; charset=utf-8')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Meta verification challenge (hub.mode, hub.verify_token, hub.challenge)' })
  verify(@Req() request: FastifyRequest): string {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const mode = query['hub.mode'];
    const token = query['hub.verify_token'];
    const challenge = query['hub.challenge'];
    const ok =
      mode === 'subscribe' &&
      typeof token === 'string' &&
      matchesAnyKey(token, [this.verifyToken]) &&
      typeof challenge === 'string' &&
      challenge.length > 0 &&
      challenge.length <= MAX_CHALLENGE_LENGTH;
    if (!ok) throw new AppError('verification_failed', 403, 'The verify token or the challenge is not valid.');
    return challenge;
  }
}
