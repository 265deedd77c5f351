import { Injectable, Logger } from '@nestjs/common';
import { WebhookProvider } from '@realapp/contracts';
import { AppError, MetricsService, splitList } from '@realapp/platform';
import { TENANT_NOT_MAPPED, WebhookEventStore, WhatsAppRoutingService, storableHeaders } from '@realapp/webhooks';
import { WebhookGatewayConfig } from '../config';
import { intakeMercadoPago, intakeMeta, intakeStripe, ParsedWebhook, RawWebhook } from './webhook-intake';
import { WebhookRejected } from './webhook-rejection';

/**
 * The hot path behind the three webhook routes: verify → parse → route (Meta) → store with its
 * outbox row, all before the 200. Nothing is written for a refused webhook.
 */
@Injectable()
export class WebhookIntakeService {
  private readonly logger = new Logger('webhook-intake');
  private readonly secrets: Readonly<Record<WebhookProvider, readonly string[]>>;
  private readonly toleranceSeconds: number;
  private readonly received;
  private readonly rejected;
  private readonly storeDuration;

  constructor(
    config: WebhookGatewayConfig,
    private readonly store: WebhookEventStore,
    private readonly routing: WhatsAppRoutingService,
    metrics: MetricsService,
  ) {
    this.secrets = Object.freeze({
      mercadopago: splitList(config.MERCADO_PAGO_WEBHOOK_SECRET),
      stripe: splitList(config.STRIPE_WEBHOOK_SECRET),
      meta: splitList(config.META_APP_SECRET),
    });
    this.toleranceSeconds = config.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS;
    this.received = metrics.counter('webhooks_received_total', 'Verified webhooks by provider and outcome (stored, duplicate, parked)', [
      'provider',
      'outcome',
    ]);
    this.rejected = metrics.counter('webhooks_rejected_total', 'Refused webhooks by provider and reason', ['provider', 'reason']);
    this.storeDuration = metrics.histogram(
      'webhook_store_duration_seconds',
      'Time to store a webhook with its outbox row (one committed statement)',
      ['provider'],
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    );
  }

  async accept(provider: WebhookProvider, raw: RawWebhook): Promise<void> {
    const parsed = this.verifyAndParse(provider, raw);
    let tenantId = parsed.tenantId;
    let parkedReason: string | null = null;
    if (provider === 'meta' && parsed.phoneNumberId !== null) {
      tenantId = await this.routing.tenantFor(parsed.phoneNumberId);
      if (tenantId === null) {
        // Stored and answered 200 (Meta would otherwise retry for days); ops sees it, and a replay
        // after the number is mapped routes it.
        parkedReason = TENANT_NOT_MAPPED;
        this.logger.warn({ phoneNumberId: parsed.phoneNumberId, reason: TENANT_NOT_MAPPED }, 'WhatsApp number is not mapped to a tenant');
      }
    }
    const timer = this.storeDuration.startTimer({ provider });
    let outcome;
    try {
      outcome = await this.store.store({
        provider,
        providerEventId: parsed.providerEventId,
        topic: parsed.topic,
        resourceId: parsed.resourceId,
        tenantId,
        bodyText: parsed.bodyText,
        payloadText: parsed.payloadText,
        headers: storableHeaders(raw.headers),
        parkedReason,
      });
    } catch (error) {
      this.logger.error({ err: error, provider }, 'could not store a verified webhook');
      // Not a 500: the provider should simply try again, and will.
      throw new AppError('webhook_not_stored', 503, 'The notification could not be stored; retry later.', {
        headers: { 'retry-after': '5' },
      });
    } finally {
      timer();
    }
    this.received.inc({ provider, outcome: !outcome.stored ? 'duplicate' : outcome.published ? 'stored' : 'parked' });
  }

  private verifyAndParse(provider: WebhookProvider, raw: RawWebhook): ParsedWebhook {
    try {
      const options = { secrets: this.secrets[provider], toleranceSeconds: this.toleranceSeconds, nowMs: Date.now() };
      switch (provider) {
        case 'mercadopago': {
          const parsed = intakeMercadoPago(raw, options);
          if (parsed.idVariant === 'lowercased') this.logger.log({ provider }, 'Mercado Pago signature matched the lowercased data.id');
          return parsed;
        }
        case 'stripe':
          return intakeStripe(raw, options);
        case 'meta':
          return intakeMeta(raw, options);
      }
    } catch (error) {
      if (error instanceof WebhookRejected) this.rejected.inc({ provider, reason: error.reason });
      throw error;
    }
  }
}
