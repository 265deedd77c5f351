import { Injectable, Logger, Optional } from '@nestjs/common';
import { INCIDENT_THRESHOLDS, IncidentService } from '@realapp/platform';
import { WhatsAppMetrics } from './whatsapp.metrics';

export type TokenProblem = 'token_expiring' | 'token_invalid';

/**
 * Raises what on-call must see about the channel: an ops incident through the platform's
 * tracker when the app has one, always an error log line with a stable code, and a metric.
 */
@Injectable()
export class WhatsAppAlerts {
  private readonly logger = new Logger('whatsapp');

  constructor(
    private readonly metrics: WhatsAppMetrics,
    @Optional() private readonly incidents?: IncidentService,
  ) {}

  async tokenProblem(
    problem: TokenProblem,
    connection: { id: string; tenantId: string | null; tokenExpiresAt: Date | null },
    source: 'job' | 'check' | 'send',
  ): Promise<void> {
    const code = `whatsapp_${problem}`;
    this.metrics.tokenProblems.inc({ status: problem, source });
    this.logger.error(
      {
        code,
        connectionId: connection.id,
        tenantId: connection.tenantId,
        tokenExpiresAt: connection.tokenExpiresAt?.toISOString() ?? null,
        source,
      },
      problem === 'token_expiring'
        ? 'WhatsApp business token expires within 7 days: the tenant must reconnect'
        : 'WhatsApp business token is invalid: the tenant must reconnect',
    );
    const incidents = this.incidents;
    if (incidents === undefined) return;
    // The tracker opens an incident when a fingerprint recurs (L1 at 3 in 15 min). A token that
    // stops working is not a blip that must recur to matter: it is reported at the L1 threshold,
    // so ops sees the incident at once (SPEC §14); a repeat within the window escalates it.
    const occurrence = {
      code,
      // One fingerprint per connection: on-call sees which one, and repeats count together.
      place: `whatsapp:connection:${connection.id}`,
      message: `Connection ${connection.id} of tenant ${connection.tenantId ?? 'none'}: ${problem} (checked by ${source})`,
    };
    await Promise.all(Array.from({ length: INCIDENT_THRESHOLDS.L1 }, () => incidents.recordQuietly(occurrence)));
  }
}
