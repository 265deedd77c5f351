import { join } from 'node:path';
import { runChaos } from './chaos/chaos-run';
import { formatReport } from './chaos/report';
import { repoRoot } from './stack/repo-root';

/*
 * `npm run chaos -- --duration 60`: the platform under faults on this machine (loopback only).
 * Options: `--infra private|shared` (default private: a PostgreSQL cluster and a RabbitMQ node of
 * the run's own, so nothing else on the machine is disturbed; shared restarts the machine's own),
 * `--customers N`, `--build-dir DIR` (default dist/), `--keep-database` (shared only).
 * Exits 1 when an invariant is violated.
 */
function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1] : fallback;
}

async function main(): Promise<void> {
  const durationSeconds = Number(argument('duration', '60'));
  if (!Number.isFinite(durationSeconds) || durationSeconds < 10 || durationSeconds > 3600) {
    console.error('--duration must be a number of seconds between 10 and 3600');
    process.exit(2);
  }
  const root = repoRoot();
  const logDir = join(root, 'tmp', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const infrastructure = argument('infra', 'private');
  if (infrastructure !== 'private' && infrastructure !== 'shared') {
    console.error('--infra must be private or shared');
    process.exit(2);
  }
  const report = await runChaos({
    durationSeconds,
    infrastructure,
    buildDir: argument('build-dir', join(root, 'dist')),
    customers: Number(argument('customers', '8')),
    logDir,
    keepDatabase: process.argv.includes('--keep-database'),
    log: (line) => console.log(`[chaos] ${line}`),
  });
  console.log(formatReport(report));
  console.log(`service logs: ${logDir}`);
  process.exit(report.ok ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
