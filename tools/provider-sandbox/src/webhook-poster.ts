/** The outcome of one webhook POST, as the control API reports it. */
export interface Delivery {
  url: string;
  /** HTTP status the receiver answered, or 0 when it could not be reached. */
  status: number;
  /** The receiver's answer, truncated; handy when a signature is refused. */
  responseBody?: string;
  error?: string;
}

/** What the control API answers under `notified`. */
export interface NotifiedSummary {
  url: string;
  /** Status of the first delivery. */
  status: number;
  /** One status per delivery when a notification was posted several times. */
  statuses: number[];
  responseBody?: string;
  error?: string;
}

export interface OutgoingWebhook {
  url: string;
  rawBody: string;
  headers: Record<string, string>;
}

const MAX_RESPONSE_CHARS = 2000;

/**
 * Posts provider notifications and waits for the receiver's answer, so a test that calls the
 * control API knows the gateway has already handled the webhook when the call returns.
 */
export class WebhookPoster {
  constructor(private readonly timeoutMs: number) {}

  async post(webhook: OutgoingWebhook): Promise<Delivery> {
    try {
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: webhook.headers,
        body: webhook.rawBody,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      return { url: webhook.url, status: response.status, responseBody: text.slice(0, MAX_RESPONSE_CHARS) };
    } catch (error: unknown) {
      return { url: webhook.url, status: 0, error: describeError(error) };
    }
  }

  /** Sends `build()` results concurrently (duplicate deliveries) and summarizes them. */
  async postMany(count: number, build: () => OutgoingWebhook): Promise<NotifiedSummary> {
    const webhooks = Array.from({ length: Math.max(1, count) }, build);
    const deliveries = await Promise.all(webhooks.map((webhook) => this.post(webhook)));
    return summarize(deliveries);
  }
}

export function summarize(deliveries: Delivery[]): NotifiedSummary {
  const first = deliveries[0];
  const summary: NotifiedSummary = {
    url: first.url,
    status: first.status,
    statuses: deliveries.map((delivery) => delivery.status),
  };
  if (first.responseBody !== undefined) summary.responseBody = first.responseBody;
  const failed = deliveries.find((delivery) => delivery.error !== undefined);
  if (failed?.error !== undefined) summary.error = failed.error;
  return summary;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.name}: ${error.message}${cause}`;
  }
  return String(error);
}
