import { Injectable, Logger } from '@nestjs/common';

/** Puts work untouched for `staleSeconds` back in the queue; resolves to how many items it requeued. */
export type StaleWorkRecoverer = (staleSeconds: number) => Promise<number>;

/**
 * SPEC §8: on start, a worker puts work left `running` longer than MVP_RUNNING_STALE_SECONDS back
 * in the queue. Each capability owns what "running" means for its work and registers a recoverer
 * here from its own `onModuleInit` (payments: stored webhook events that never reached a final
 * state; orders: orders stuck in `launching`). The heartbeat runs them all once the app has booted.
 */
@Injectable()
export class StaleWorkRegistry {
  private readonly logger = new Logger('stale-work');
  private readonly recoverers = new Map<string, StaleWorkRecoverer>();

  register(name: string, recoverer: StaleWorkRecoverer): void {
    if (this.recoverers.has(name)) throw new Error(`stale-work recoverer registered twice: ${name}`);
    this.recoverers.set(name, recoverer);
  }

  /** Runs every recoverer; one failing does not stop the others (each is retried on the next start). */
  async recoverAll(staleSeconds: number): Promise<Record<string, number>> {
    const requeued: Record<string, number> = {};
    for (const [name, recoverer] of this.recoverers) {
      try {
        requeued[name] = await recoverer(staleSeconds);
      } catch (error) {
        this.logger.error({ err: error, recoverer: name }, 'stale work recovery failed');
      }
    }
    return requeued;
  }
}
