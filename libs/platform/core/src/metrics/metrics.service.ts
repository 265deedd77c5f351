import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per process. Metrics are created on first use so that each lib declares the
 * business metrics it owns next to the code that moves them.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly counters = new Map<string, Counter<string>>();
  private readonly gauges = new Map<string, Gauge<string>>();
  private readonly histograms = new Map<string, Histogram<string>>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    let metric = this.counters.get(name);
    if (!metric) {
      metric = new Counter({ name, help, labelNames, registers: [this.registry] });
      this.counters.set(name, metric);
    }
    return metric;
  }

  gauge(
    name: string,
    help: string,
    labelNames: string[] = [],
    collect?: (this: Gauge<string>) => void | Promise<void>,
  ): Gauge<string> {
    let metric = this.gauges.get(name);
    if (!metric) {
      metric = new Gauge({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
      this.gauges.set(name, metric);
    }
    return metric;
  }

  histogram(name: string, help: string, labelNames: string[] = [], buckets?: number[]): Histogram<string> {
    let metric = this.histograms.get(name);
    if (!metric) {
      metric = new Histogram({ name, help, labelNames, registers: [this.registry], ...(buckets ? { buckets } : {}) });
      this.histograms.set(name, metric);
    }
    return metric;
  }
}
