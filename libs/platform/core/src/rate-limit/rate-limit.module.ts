import { DynamicModule, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { PeriodicJobGate } from './periodic-job-gate';
import { RATE_LIMIT_SERVICE_NAME, RateLimitService } from './rate-limit.service';
import { TenantRateLimitInterceptor } from './tenant-rate-limit.interceptor';

/**
 * `RateLimitService` for every module (the webhook gateway counts failed signatures with it),
 * `PeriodicJobGate` (once-per-interval jobs across replicas) and the tenant interceptor on every route. `createHttpApp` adds it to each service's root module;
 * it relies on the global config and metrics of `PlatformModule`.
 */
@Module({})
export class RateLimitModule {
  static forRoot(service: string): DynamicModule {
    return {
      module: RateLimitModule,
      global: true,
      providers: [
        { provide: RATE_LIMIT_SERVICE_NAME, useValue: service },
        RateLimitService,
        PeriodicJobGate,
        { provide: APP_INTERCEPTOR, useClass: TenantRateLimitInterceptor },
      ],
      exports: [RateLimitService, PeriodicJobGate],
    };
  }
}

/** The service's root module with the rate limits added (a copy; the original is not touched). */
export function withRateLimits(root: DynamicModule, service: string): DynamicModule {
  return { ...root, imports: [...(root.imports ?? []), RateLimitModule.forRoot(service)] };
}
