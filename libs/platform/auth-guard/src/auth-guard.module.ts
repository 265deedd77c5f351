import { DynamicModule, Global, Module, ModuleMetadata, Provider } from '@nestjs/common';
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
          useFactory: (options: AuthGuardOptions) => new AccessTokenVerifier(options),
          inject: [AUTH_GUARD_OPTIONS],
        },
        BearerStrategy,
        BearerAuthGuard,
        RolesGuard,
      ],
      exports: [AUTH_GUARD_OPTIONS, AccessTokenVerifier, BearerStrategy, BearerAuthGuard, RolesGuard],
    };
  }
}
