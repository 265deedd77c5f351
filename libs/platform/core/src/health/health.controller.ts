import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { READINESS_CHECKS, ReadinessCheck, withTimeout } from './readiness';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
  ) {}

  /** The process is up and its event loop turns; dependencies do not matter here. */
  @Get(['health/liveness', 'health'])
  @HealthCheck()
  liveness(): Promise<HealthCheckResult> {
    return this.health.check([() => this.indicator.check('process').up({ uptimeSeconds: Math.round(process.uptime()) })]);
  }

  /** 503 as soon as a dependency stops answering, 200 again when it is back (no restart needed). */
  @Get(['health/readiness', 'ready'])
  @HealthCheck()
  readiness(): Promise<HealthCheckResult> {
    return this.health.check(
      this.checks.map((check) => async () => {
        const indicator = this.indicator.check(check.name);
        try {
          return (await withTimeout(check.isReady(), 2000, check.name)) ? indicator.up() : indicator.down();
        } catch (error) {
          return indicator.down({ message: error instanceof Error ? error.message : 'unavailable' });
        }
      }),
    );
  }
}
