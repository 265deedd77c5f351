/** Names of everything the platform declares on the broker, in one place. */
export class Topology {
  constructor(
    private readonly prefix: string,
    private readonly maxAttempts: number,
    private readonly baseDelayMs: number,
    /** Which service consumes which types (SUBSCRIPTIONS in production, a suite's own in tests). */
    readonly subscriptions: Readonly<Record<string, readonly string[]>>,
  ) {}

  get eventsExchange(): string {
    return `${this.prefix}realapp.events`;
  }

  /** One durable quorum queue per (service, event type): every service that cares gets its own copy. */
  queue(service: string, eventType: string): string {
    return `${this.prefix}${service}.${eventType}`;
  }

  /** Delay queue for the retry that follows attempt `attempt` (1-based). */
  retryQueue(queue: string, attempt: number): string {
    return `${queue}.retry.${attempt}`;
  }

  deadLetterQueue(queue: string): string {
    return `${queue}.dlq`;
  }

  /** 1×, 5×, 25×… the base delay: quick for a blip, patient for an outage. */
  retryDelayMs(attempt: number): number {
    return this.baseDelayMs * 5 ** (attempt - 1);
  }

  get attempts(): number {
    return this.maxAttempts;
  }
}
