import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { withAdvisoryLock } from '@realapp/platform';
import { RefreshTokenService } from '../tokens/refresh-token.service';
import { LoginThrottle } from './login-throttle.service';

const INTERVAL_MS = 10 * 60 * 1000;

/** Drops login failures out of their window and long-expired refresh tokens, once per interval across replicas. */
@Injectable()
export class HousekeepingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(HousekeepingService.name);
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly throttle: LoginThrottle,
    private readonly refreshTokens: RefreshTokenService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.run(), INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async run(): Promise<void> {
    try {
      const outcome = await withAdvisoryLock(this.dataSource, 'auth-housekeeping', async () => ({
        loginFailures: await this.throttle.purgeExpired(),
        refreshTokens: await this.refreshTokens.purgeExpired(),
      }));
      if (outcome.ran) this.logger.log(outcome.result, 'auth housekeeping done');
    } catch (error) {
      this.logger.warn({ err: error }, 'auth housekeeping failed; next interval retries');
    }
  }
}
