import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter } from 'prom-client';
import {
  DataSource,
  EntityManager,
  EntitySubscriberInterface,
  TransactionCommitEvent,
  TransactionRollbackEvent,
} from 'typeorm';
import { MetricsService } from '@realapp/platform';

/** A top-up credit that just posted, in the transaction that posted it. */
export interface AppliedCredit {
  tenantId: string;
  provider: string;
  amountCents: number;
  /** The ledger reference of the credit (`mercadopago:<id>:topup`). */
  reference: string;
  /** The message the credit comes from, when it is applied in a batch of many (not the batch's context). */
  causationId?: string;
  correlationId?: string;
}

/**
 * What money arriving sets off beyond the ledger, run in the credit's own transaction: the tenant's
 * orders waiting for money are asked to be re-evaluated. Orders own that (libs/orders provides it
 * under this token); payments only says when money arrived.
 *
 * It runs after the credit locked the wallet, so an order that committed as waiting before is
 * visible to it, and one that commits later waits for the wallet and sees the money itself.
 */
export interface CreditFollowUp {
  credited(tx: EntityManager, credits: readonly AppliedCredit[]): Promise<void>;
}

export const CREDIT_FOLLOW_UP = Symbol('CREDIT_FOLLOW_UP');

const PENDING = 'realapp.credits.pending';

/**
 * The follow-up of every credit, and on-call's credit counters. The follow-up is looked up across
 * the app's modules once at start (orders depend on payments, so payments cannot import them):
 * an app that credits without it refuses to start instead of leaving waiting orders waiting.
 *
 * The counters move when the credit's transaction commits (a TypeORM transaction subscriber), so a
 * batch rolled back and applied again one by one counts once.
 */
@Injectable()
export class CreditEffects implements OnModuleInit, EntitySubscriberInterface {
  private followUp: CreditFollowUp | null = null;
  private readonly credits: Counter<string>;
  private readonly creditedCents: Counter<string>;

  constructor(
    private readonly moduleRef: ModuleRef,
    @InjectDataSource() dataSource: DataSource,
    @Inject(MetricsService) metrics: MetricsService,
  ) {
    dataSource.subscribers.push(this);
    this.credits = metrics.counter('credits_applied_total', 'Top-ups credited to wallets', ['provider']);
    this.creditedCents = metrics.counter(
      'credits_applied_cents_total',
      'Cents credited to wallets by top-ups',
      ['provider'],
    );
  }

  onModuleInit(): void {
    try {
      this.followUp = this.moduleRef.get<CreditFollowUp>(CREDIT_FOLLOW_UP, { strict: false });
    } catch (error) {
      throw new Error(
        'PaymentsModule credits wallets but no module provides CREDIT_FOLLOW_UP: import OrdersModule ' +
          'in this app, or waiting orders would never learn that money arrived',
        { cause: error },
      );
    }
  }

  /** Call in the transaction that posted `credits`, after the posting. */
  async credited(tx: EntityManager, credits: readonly AppliedCredit[]): Promise<void> {
    if (credits.length === 0) return;
    if (!this.followUp) throw new Error('CreditEffects used before the application started');
    await this.followUp.credited(tx, credits);
    const data = tx.queryRunner?.data as Record<string, AppliedCredit[] | undefined> | undefined;
    if (data) (data[PENDING] ??= []).push(...credits);
  }

  afterTransactionCommit(event: TransactionCommitEvent): void {
    // A savepoint release is not the commit: wait for the outermost transaction.
    if (event.queryRunner.isTransactionActive) return;
    const data = event.queryRunner.data as Record<string, AppliedCredit[] | undefined>;
    const pending = data[PENDING];
    if (!pending) return;
    delete data[PENDING];
    for (const credit of pending) {
      this.credits.inc({ provider: credit.provider });
      this.creditedCents.inc({ provider: credit.provider }, credit.amountCents);
    }
  }

  afterTransactionRollback(event: TransactionRollbackEvent): void {
    if (!event.queryRunner.isTransactionActive)
      delete (event.queryRunner.data as Record<string, unknown>)[PENDING];
  }
}
