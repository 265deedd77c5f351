import { runChaos } from './chaos/chaos-run';
import { formatReport } from './chaos/report';
import { buildPrivately, removeBuild } from './stack/build';

/*
 * The short form of `npm run chaos` (20 s) in CI: the platform as real processes on a PostgreSQL
 * cluster and a RabbitMQ node of its own, under SIGKILLs and restarts while webhooks and orders
 * stream in. Nothing accepted may be lost or applied twice.
 */
describe('chaos (short run)', () => {
  it('loses nothing and doubles nothing while services are killed and the broker and database restart', async () => {
    const buildDir = buildPrivately();
    try {
      const report = await runChaos({
        durationSeconds: 20,
        buildDir,
        log: (line) => console.log(`[chaos] ${line}`),
      });
      console.log(formatReport(report));
      expect(report.faults.filter((fault) => fault.recoveredSeconds === null)).toEqual([]);
      expect(report.invariants.filter((invariant) => !invariant.ok)).toEqual([]);
      expect(report.load.topupsCreated).toBeGreaterThan(20);
      expect(report.load.ordersCreated).toBeGreaterThan(20);
    } finally {
      removeBuild(buildDir);
    }
  }, 300_000);
});
