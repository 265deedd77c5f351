import { DynamicModule, Global, Module } from '@nestjs/common';

export const APP_CONFIG = Symbol('APP_CONFIG');

/**
 * Makes the one validated, frozen config object injectable both by its class
 * (for the app's own services) and by BaseConfig (for platform modules).
 */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot<T extends object>(ConfigClass: abstract new () => T, config: T, also: Array<abstract new () => object> = []): DynamicModule {
    const providers = [ConfigClass, ...also].map((token) => ({ provide: token, useValue: config }));
    return {
      module: AppConfigModule,
      providers: [{ provide: APP_CONFIG, useValue: config }, ...providers],
      exports: [APP_CONFIG, ConfigClass, ...also],
    };
  }
}
