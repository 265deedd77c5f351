import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { DestinationStream, Logger } from 'pino';
import { currentContext } from '../context/request-context';
import { redactValue } from './redact';

export interface RootLoggerOptions {
  service: string;
  level: string;
  debugLogDir?: string;
  /** Extra fields on every line (e.g. the Meta simulator flag). */
  base?: Record<string, unknown>;
  destination?: DestinationStream;
}

/**
 * One JSON object per line with UTC ISO time, level label, service and the correlation id of
 * the work in progress (read from AsyncLocalStorage, so code never has to pass it around).
 */
export function createRootLogger(options: RootLoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [{ level: options.level as pino.Level, stream: options.destination ?? pino.destination(1) }];
  if (options.debugLogDir) {
    mkdirSync(options.debugLogDir, { recursive: true });
    const file = join(options.debugLogDir, `${options.service}-${new Date().toISOString().slice(0, 10)}.jsonl`);
    streams.push({ level: options.level as pino.Level, stream: pino.destination({ dest: file, sync: false, mkdir: true }) });
  }
  return pino(
    {
      level: options.level,
      base: { service: options.service, ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactValue(object) as Record<string, unknown>,
      },
      mixin: () => {
        const context = currentContext();
        return context ? { correlationId: context.correlationId, ...(context.tenantId ? { tenantId: context.tenantId } : {}) } : {};
      },
      serializers: {
        err: pino.stdSerializers.err,
        req: (req: { method?: string; url?: string; routeOptions?: { url?: string } }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
    pino.multistream(streams),
  );
}
