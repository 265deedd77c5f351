import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestContext {
  correlationId: string;
  causationId?: string | null;
  tenantId?: string | null;
}

const storage = new AsyncLocalStorage<RequestContext>();

const VALID_CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** SPEC §13: a valid id is kept, anything else is replaced by a new UUID. */
export function acceptCorrelationId(candidate: unknown): string {
  return typeof candidate === 'string' && VALID_CORRELATION_ID.test(candidate) ? candidate : randomUUID();
}

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}
