import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { MetricsService, PeriodicJobGate, withAdvisoryLock } from '@realapp/platform';
import {
  MercadoPagoClient,
  MercadoPagoPayment,
  PendingTopup,
  StripeGateway,
  TopupApplyResult,
  TopupService,
} from '@realapp/payments';
import { CodexWorkerConfig } from '../config';

export const RECONCILIATION_LOCK = 'topup-reconciliation';
/** Top-ups looked at per pass; the least recently checked come first, so a backlog rotates. */
const PASS_SIZE = 200;

export type ReconciliationTrigger = 'interval' | 'ops' | 'manual';

export interface ReconciliationPass {
  /** False when another replica was running a pass (advisory lock held). */
  ran: boolean;
  checked: number;
  applied: number;
  expired: number;
  failed: number;
}

/**
 * Pending top-ups whose webhook never came (SPEC §5, §8): every TOPUP_RECONCILIATION_INTERVAL_MS
 * one replica asks each provider for the current state and applies it through the same
 * idempotent services the webhooks use, so a late webhook and a pass can never credit twice.
 * A PIX the provider still calls pending past its expiry is closed as `expired`.
 */
@Injectable()
export class TopupReconciliation implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('topup-reconciliation');
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<ReconciliationPass> | null = null;
  private readonly passes;
  private readonly outcomes;

  constructor(
    private readonly config: CodexWorkerConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly topups: TopupService,
    private readonly mercadoPago: MercadoPagoClient,
    private readonly stripe: StripeGateway,
    metrics: MetricsService,
    private readonly gate: PeriodicJobGate,
  ) {
    this.passes = metrics.counter('topup_reconciliation_passes_total', 'Reconciliation passes by trigger and whether this replica ran them', [
      'trigger',
      'ran',
    ]);
    this.outcomes = metrics.counter('topup_reconciliation_topups_total', 'Top-ups checked by reconciliation, by result', ['result']);
  }

  onApplicationBootstrap(): void {
    const interval = this.config.TOPUP_RECONCILIATION_INTERVAL_MS;
    // The advisory lock stops overlapping passes; the gate makes it one pass per interval across replicas.
    this.timer = setInterval(
      () =>
        void this.gate
          .claim(RECONCILIATION_LOCK, interval)
          .then((claimed) => (claimed ? this.runPass('interval') : undefined))
          .catch(() => undefined),
      interval,
    );
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.current?.catch(() => undefined);
  }

  /** One pass now, unless this process or another replica is running one already. */
  runPass(trigger: ReconciliationTrigger): Promise<ReconciliationPass> {
    if (this.current) return this.current.then(() => ({ ran: false, checked: 0, applied: 0, expired: 0, failed: 0 }));
    this.current = this.pass(trigger).finally(() => (this.current = null));
    return this.current;
  }

  private async pass(trigger: ReconciliationTrigger): Promise<ReconciliationPass> {
    try {
      const locked = await withAdvisoryLock(this.dataSource, RECONCILIATION_LOCK, async () => {
        const pass: ReconciliationPass = { ran: true, checked: 0, applied: 0, expired: 0, failed: 0 };
        for (const topup of await this.topups.listPendingForReconciliation(PASS_SIZE)) {
          pass.checked++;
          try {
            const result = await this.reconcile(topup);
            if (result.outcome === 'applied') pass.applied++;
            if (result.status === 'expired' && result.outcome === 'applied') pass.expired++;
            this.outcomes.inc({ result: result.outcome });
          } catch (error) {
            // One provider hiccup must not stop the pass; this top-up comes round again next time.
            pass.failed++;
            this.outcomes.inc({ result: 'error' });
            this.logger.warn({ err: error, topupId: topup.id, provider: topup.provider }, 'could not reconcile a top-up');
          }
        }
        return pass;
      });
      this.passes.inc({ trigger, ran: String(locked.ran) });
      if (!locked.ran) return { ran: false, checked: 0, applied: 0, expired: 0, failed: 0 };
      if (locked.result.checked > 0) this.logger.log({ trigger, ...locked.result }, 'reconciliation pass done');
      return locked.result;
    } catch (error) {
      this.logger.error({ err: error, trigger }, 'reconciliation pass failed');
      throw error;
    }
  }

  /** The provider's current state, applied; then expiry, only once the provider says it is unpaid. */
  async reconcile(topup: PendingTopup, now: Date = new Date()): Promise<TopupApplyResult> {
    let result: TopupApplyResult | null = null;
    if (topup.provider === 'mercadopago') {
      const payment = await this.findMercadoPagoPayment(topup);
      if (payment) result = await this.topups.applyMercadoPagoPayment(payment);
    } else if (topup.providerSessionId) {
      result = await this.topups.applyStripeCheckoutSession(await this.stripe.getCheckoutSession(topup.providerSessionId));
    }
    const stillPending = result === null || result.status === 'pending';
    if (stillPending && topup.expiresAt !== null && topup.expiresAt.getTime() <= now.getTime()) {
      return this.topups.expirePix(topup.id, now);
    }
    return result ?? { outcome: 'unchanged', topupId: topup.id, tenantId: topup.tenantId, previousStatus: 'pending', status: 'pending', steps: [], entries: [], balanceNegative: false };
  }

  /** By payment id; without one (creation crashed after the call) by external_reference = top-up id. */
  private async findMercadoPagoPayment(topup: PendingTopup): Promise<MercadoPagoPayment | null> {
    if (topup.providerPaymentId) return this.mercadoPago.getPayment(topup.providerPaymentId);
    const found = await this.mercadoPago.searchPayments({ externalReference: topup.id });
    return found.find((payment) => payment.status === 'approved') ?? found[0] ?? null;
  }
}
