import { DynamicModule, Module } from '@nestjs/common';
import { Logger } from 'pino';
import { LoggerModule } from 'nestjs-pino';
import { currentCorrelationId } from '../context/request-context';

export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

/** nestjs-pino on top of the service's root logger, so request logs and app logs share one format. */
@Module({})
export class LoggingModule {
  static forRoot(logger: Logger): DynamicModule {
    return {
      module: LoggingModule,
      global: true,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            logger,
            genReqId: () => currentCorrelationId() ?? 'unknown',
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
            // Access lines come from createHttpApp's onResponse hook (see there why).
            autoLogging: false,
            quietReqLogger: true,
            customSuccessMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
          },
        }),
      ],
      providers: [{ provide: ROOT_LOGGER, useValue: logger }],
      exports: [ROOT_LOGGER, LoggerModule],
    };
  }
}
