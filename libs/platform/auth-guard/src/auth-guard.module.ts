import { DynamicModule, Global, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { MetricsService } from '@realapp/platform';
import { AccessTokenVerifier } from './access-token.verifier';
import { AUTH_GUARD_OPTIONS, AuthGuardOptions } from './auth-guard.options';
import { BearerAuthGuard } from './bearer-auth.guard';
import { BearerStrategy } from './bearer.strategy';
import { RolesGuard } from './roles';

export interface AuthGuardAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => AuthGuardOptions | Promise<AuthGuardOptions>;
}

/**
 * Bearer authentication for every service: import once in the app's root module, then
 * `@Authenticated()` / `@Roles(...)` on controllers and `@CurrentAuth()` in handlers.
 */
@Global()
@Module({})
export class AuthGuardModule {
  static forRoot(options: AuthGuardOptions): DynamicModule {
    return AuthGuardModule.build([{ provide: AUTH_GUARD_OPTIONS, useValue: options }]);
  }

  /** For options that need other providers (auth-api reads its own key store). */
  static forRootAsync(options: AuthGuardAsyncOptions): DynamicModule {
    return AuthGuardModule.build(
      [{ provide: AUTH_GUARD_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }],
      options.imports,
    );
  }

  private static build(optionProviders: Provider[], imports: ModuleMetadata['imports'] = []): DynamicModule {
    return {
      module: AuthGuardModule,
      global: true,
      imports,
      providers: [
        ...optionProviders,
        {
          provide: AccessTokenVerifier,
          useFactory: (options: AuthGuardOptions, metrics?: MetricsService) =>
            new AccessTokenVerifier(options, { onCacheLookup: cacheLookupCounter(metrics) }),
          // Services have PlatformModule's metrics; a bare test app has none and counts nothing.
          inject: [AUTH_GUARD_OPTIONS, { token: MetricsService, optional: true }],
        },
        BearerStrategy,
        BearerAuthGuard,
        RolesGuard,
      ],
      exports: [AUTH_GUARD_OPTIONS, AccessTokenVerifier, BearerStrategy, BearerAuthGuard, RolesGuard],
    };
  }
}

function cacheLookupCounter(metrics: MetricsService | undefined): ((hit: boolean) => void) | undefined {
  if (!metrics) return undefined;
  const lookups = metrics.counter(
    'auth_verified_token_cache_total',
    'Access tokens answered from the verified-token cache (hit) or checked by jose (miss)',
    ['result'],
  );
  // Bound once: a per-request inc({result}) would hash the label set on every call.
  const hit = lookups.labels('hit');
  const miss = lookups.labels('miss');
  return (found) => (found ? hit : miss).inc();
}
