import { DynamicModule, Module, ModuleMetadata } from '@nestjs/common';
import { MetricsService } from '@realapp/platform';
import { InstrumentedMetaAdsApi } from './meta-ads.instrumented';
import { createMetaAdsApi, CreateMetaAdsApiOptions } from './meta-ads.factory';

/** Inject the Meta port with `@Inject(META_ADS_API) meta: MetaAdsApi`. */
export const META_ADS_API = Symbol('META_ADS_API');

export interface MetaAdsModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<string | symbol | (abstract new (...args: never[]) => unknown)>;
  useFactory: (...args: never[]) => CreateMetaAdsApiOptions;
}

/**
 * The Meta port for a process: the Graph client or the simulator (REAL_ADS_ENABLED decides, in
 * createMetaAdsApi), wrapped with call metrics. Needs the platform's MetricsService.
 */
@Module({})
export class MetaAdsModule {
  static forRootAsync(options: MetaAdsModuleAsyncOptions): DynamicModule {
    return {
      module: MetaAdsModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: META_ADS_API,
          useFactory: (metrics: MetricsService, ...deps: never[]) =>
            new InstrumentedMetaAdsApi(createMetaAdsApi(options.useFactory(...deps)), metrics),
          inject: [MetricsService, ...(options.inject ?? [])],
        },
      ],
      exports: [META_ADS_API],
    };
  }
}
