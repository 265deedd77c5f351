import { DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { LedgerModule } from '@realapp/ledger';
import { CreditEffects } from './credit-follow-up';
import { MercadoPagoClient } from './mercadopago/mercadopago.client';
import { PAYMENTS_OPTIONS, PaymentsModuleOptions } from './payments.options';
import { SubscriptionEntity } from './persistence/subscription.entity';
import { SubscriptionRepository } from './persistence/subscription.repository';
import { TopupEntity } from './persistence/topup.entity';
import { TopupRepository } from './persistence/topup.repository';
import { StripeGateway } from './stripe/stripe.gateway';
import { SubscriptionService } from './subscription.service';
import { TopupService } from './topup.service';

/**
 * Top-ups, subscriptions and the provider clients, for every process that moves money through a
 * provider (queue-api for the app's requests, codex-worker for webhooks and reconciliation).
 * Global, and re-exports `LedgerModule`, so an app imports it once at its root:
 * `PaymentsModule.forRoot(paymentsOptionsFromConfig(config))`. Needs PlatformModule (database) and
 * MessagingModule (outbox).
 */
@Module({})
export class PaymentsModule {
  static forRoot(options: PaymentsModuleOptions): DynamicModule {
    const providerLogger = new Logger('PaymentsProvider');
    return {
      module: PaymentsModule,
      global: true,
      imports: [TypeOrmModule.forFeature([TopupEntity, SubscriptionEntity]), LedgerModule],
      providers: [
        { provide: PAYMENTS_OPTIONS, useValue: options },
        {
          provide: MercadoPagoClient,
          useFactory: () =>
            new MercadoPagoClient({
              baseUrl: options.mercadoPago.baseUrl,
              accessToken: options.mercadoPago.accessToken,
              ...(options.mercadoPago.timeoutMs !== undefined
                ? { timeoutMs: options.mercadoPago.timeoutMs }
                : {}),
              ...(options.mercadoPago.maxRetries !== undefined
                ? { maxRetries: options.mercadoPago.maxRetries }
                : {}),
              logger: { warn: (obj, msg) => providerLogger.warn(obj, msg) },
            }),
        },
        {
          provide: StripeGateway,
          useFactory: () =>
            new StripeGateway({
              secretKey: options.stripe.secretKey,
              ...(options.stripe.apiBaseUrl ? { apiBaseUrl: options.stripe.apiBaseUrl } : {}),
              ...(options.stripe.timeoutMs !== undefined ? { timeoutMs: options.stripe.timeoutMs } : {}),
              ...(options.stripe.maxNetworkRetries !== undefined
                ? { maxNetworkRetries: options.stripe.maxNetworkRetries }
                : {}),
            }),
        },
        TopupRepository,
        SubscriptionRepository,
        CreditEffects,
        TopupService,
        SubscriptionService,
      ],
      exports: [
        PAYMENTS_OPTIONS,
        MercadoPagoClient,
        StripeGateway,
        TopupService,
        SubscriptionService,
        LedgerModule,
      ],
    };
  }
}
