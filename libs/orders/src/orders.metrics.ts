import { Injectable } from '@nestjs/common';
import { MetricsService } from '@realapp/platform';
import type { OrderTransitionRecord } from './orders.types';

/** Business metrics of the orders lib, counted after the transaction that made them committed. */
@Injectable()
export class OrderMetrics {
  private readonly transitions;

  constructor(metrics: MetricsService) {
    this.transitions = metrics.counter(
      'ads_order_transitions_total',
      'Order status transitions by from and to status',
      ['from', 'to'],
    );
  }

  recordTransitions(records: readonly OrderTransitionRecord[]): void {
    for (const record of records) this.transitions.inc({ from: record.from ?? 'none', to: record.to });
  }
}
