import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { IncidentService } from '@realapp/platform';
import { DeadLetterService } from './dead-letter.service';

/**
 * Every dead letter is an error on-call must see: it counts towards an incident (SPEC §9: the same
 * fingerprint 3/5/8 times in 15 min escalates L1/L2/L3), keyed by the queue it died in.
 */
@Injectable()
export class DeadLetterIncidents implements OnModuleInit {
  constructor(
    private readonly deadLetters: DeadLetterService,
    @Optional() private readonly incidents?: IncidentService,
  ) {}

  onModuleInit(): void {
    const incidents = this.incidents;
    if (!incidents) return;
    this.deadLetters.onDeadLetter(async ({ queue, envelope, reason, attempts }) => {
      await incidents.recordQuietly({
        code: 'message_dead_lettered',
        place: `consumer:${queue.replace(/^t[0-9a-f]{8}\./, '')}`,
        message: `${envelope?.type ?? 'unparseable message'} dead-lettered after ${attempts} attempt(s): ${reason}`,
        correlationId: envelope?.correlationId,
      });
    });
  }
}
