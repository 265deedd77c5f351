import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { MetricsService } from '@realapp/platform';

/** The channel's Prometheus metrics, declared next to the code that moves them. */
@Injectable()
export class WhatsAppMetrics {
  /** Replies by how they were chosen and how sending ended. */
  readonly replies: Counter<string>;
  readonly aiCalls: Counter<string>;
  /** Every token check that found a problem; alert on `increase(...) > 0`. */
  readonly tokenProblems: Counter<string>;
  /** Connections whose token is expiring or invalid, as of the last check; alert on `> 0`. */
  readonly tokenProblemConnections: Gauge<string>;
  readonly partnerEvents: Counter<string>;
  readonly inboundMessages: Counter<string>;

  constructor(metrics: MetricsService) {
    this.replies = metrics.counter('whatsapp_replies_total', 'WhatsApp replies by kind (flow, ai, fallback) and outcome', [
      'kind',
      'outcome',
    ]);
    this.aiCalls = metrics.counter('whatsapp_ai_calls_total', 'AI reply decisions and results', ['outcome']);
    this.tokenProblems = metrics.counter(
      'whatsapp_token_problems_total',
      'WhatsApp business tokens found expiring (< 7 days) or invalid',
      ['status', 'source'],
    );
    this.tokenProblemConnections = metrics.gauge(
      'whatsapp_token_problem_connections',
      'Connections whose token was expiring or invalid at the last health check',
      ['status'],
    );
    this.partnerEvents = metrics.counter('whatsapp_partner_events_total', 'Partner events by the case that applied', ['outcome']);
    this.inboundMessages = metrics.counter('whatsapp_inbound_messages_total', 'Inbound WhatsApp messages by outcome', ['outcome']);
  }
}
