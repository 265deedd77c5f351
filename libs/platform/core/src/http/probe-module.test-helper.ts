import { DynamicModule, Module, Type } from '@nestjs/common';
import pino, { Logger } from 'pino';
import { BaseConfig } from '../config/base.config';
import { createRootLogger } from '../logging/logger';
import { PlatformModule } from '../platform.module';

/** A root module for an HTTP probe app: the platform as every service has it, and the given controllers. */
export function probeModule(
  service: string,
  config: BaseConfig,
  controllers: Type[],
  imports: DynamicModule[] = [],
  logger: Logger = createRootLogger({ service, level: 'warn', destination: pino.destination('/dev/null') }),
): DynamicModule {
  @Module({ controllers })
  class ProbeModule {}
  return {
    module: ProbeModule,
    imports: [
      PlatformModule.forRoot({
        service,
        ConfigClass: BaseConfig,
        config,
        logger,
      }),
      ...imports,
    ],
  };
}
