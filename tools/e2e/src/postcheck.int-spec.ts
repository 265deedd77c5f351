import { parseArgs, runPostcheck } from '@realapp/postcheck';
import { Platform, startPlatform } from './support/platform.test-helper';

/**
 * The go-live postcheck (SPEC §11) run exactly as on-call runs it after a deploy, against the
 * local stack through its one origin: the nginx gateway in front of the four services.
 */
describe('npm run postcheck against the local stack', () => {
  let platform: Platform;

  beforeAll(async () => {
    platform = await startPlatform();
  }, 120000);

  afterAll(async () => {
    await platform?.close();
  });

  it('passes all five go-live checks', async () => {
    const options = parseArgs(['--base-url', platform.gatewayUrl, '--sandbox-url', platform.sandbox.url, '--timeout-ms', '30000']);
    if (!options) throw new Error('postcheck refused its arguments');
    const lines: string[] = [];
    const report = await runPostcheck(options, (line) => lines.push(line));
    expect(lines.filter((line) => line.includes('✗'))).toEqual([]);
    expect(report).toMatchObject({ ok: true, failed: 0, passed: 5 });
  }, 180000);
});
