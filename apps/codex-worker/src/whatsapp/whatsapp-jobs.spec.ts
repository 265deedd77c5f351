import { expectEventually } from '@realapp/testing';
import { ConnectionsService, InboundService, NightlyCleanupService } from '@realapp/whatsapp';
import { CodexWorkerConfig } from '../config';
import { nextRunAt, WhatsAppJobs } from './whatsapp-jobs';

describe('nextRunAt (the schedules of SPEC §14, in UTC)', () => {
  it('runs the token health check at 02:00 and the cleanup at 00:00 UTC', () => {
    const from = new Date('2026-11-24T13:07:00.000Z');
    expect(nextRunAt('0 2 * * *', from).toISOString()).toBe('2026-11-25T02:00:00.000Z');
    expect(nextRunAt('0 0 * * *', from).toISOString()).toBe('2026-11-25T00:00:00.000Z');
    expect(nextRunAt('0 2 * * *', new Date('2026-11-24T01:59:59.000Z')).toISOString()).toBe('2026-11-24T02:00:00.000Z');
  });
});

describe('WhatsAppJobs', () => {
  const calls = { health: 0, cleanup: 0, sweep: 0, reseal: 0 };
  const connections = {
    runTokenHealthCheck: () => {
      calls.health++;
      return Promise.resolve(null);
    },
    resealTokens: () => {
      calls.reseal++;
      return Promise.resolve({ resealed: 0, remaining: 0, failed: 0 });
    },
  } as unknown as ConnectionsService;
  const cleanup = {
    run: () => {
      calls.cleanup++;
      return Promise.reject(new Error('a failing run is logged, and the schedule goes on'));
    },
  } as unknown as NightlyCleanupService;
  const inbound = {
    sweep: () => {
      calls.sweep++;
      return Promise.resolve(null);
    },
  } as unknown as InboundService;

  it('schedules the crons and the sweeper from the configuration, re-encrypts at start, and stops on shutdown', async () => {
    const config = Object.assign(new CodexWorkerConfig(), {
      WHATSAPP_TOKEN_CHECK_CRON: '* * * * * *',
      WHATSAPP_CLEANUP_CRON: '* * * * * *',
      WHATSAPP_REPLY_SWEEP_INTERVAL_MS: 100,
    });
    const jobs = new WhatsAppJobs(config, connections, cleanup, inbound);
    jobs.onApplicationBootstrap();
    expect(calls.reseal).toBe(1);
    await expectEventually(() => {
      expect(calls.health).toBeGreaterThanOrEqual(2);
      expect(calls.cleanup).toBeGreaterThanOrEqual(2);
      expect(calls.sweep).toBeGreaterThanOrEqual(3);
    });
    expect(jobs.active).toBe(true);
    await jobs.onApplicationShutdown();
    expect(jobs.active).toBe(false);
  });
});
