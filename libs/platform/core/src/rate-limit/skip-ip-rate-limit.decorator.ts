import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';

/** The Fastify route-config flag the per-IP hook looks for (read before Nest sees the request). */
export const SKIP_IP_RATE_LIMIT = 'skipIpRateLimit';

function mark(handler: object): void {
  const existing = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as Record<
    string,
    unknown
  >;
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...existing, [SKIP_IP_RATE_LIMIT]: true }, handler);
}

/**
 * Exempts a route (or every route of a controller) from the per-IP limit: the webhook receivers,
 * whose correctly signed deliveries must never be refused (SPEC §16). They call
 * `RateLimitService.countFailedSignature(ip)` for a delivery whose signature fails instead.
 *
 * The flag travels as Fastify route config so the per-IP check can run in `onRequest`, before the
 * body is read. It merges with the route config already there; write it above any `@RouteConfig()`
 * of the same method (decorators apply bottom-up, and `@RouteConfig` replaces what it finds).
 */
export function SkipIpRateLimit(): MethodDecorator & ClassDecorator {
  return ((
    target: object | (abstract new (...args: never[]) => unknown),
    _key?: string | symbol,
    descriptor?: PropertyDescriptor,
  ) => {
    if (descriptor) {
      mark(descriptor.value as object);
      return descriptor;
    }
    const prototype = (target as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(prototype)) {
      const member = Object.getOwnPropertyDescriptor(prototype, name)?.value as unknown;
      if (name !== 'constructor' && typeof member === 'function') mark(member);
    }
    return undefined;
  }) as MethodDecorator & ClassDecorator;
}

export function skipsIpRateLimit(routeConfig: unknown): boolean {
  return (
    typeof routeConfig === 'object' &&
    routeConfig !== null &&
    (routeConfig as Record<string, unknown>)[SKIP_IP_RATE_LIMIT] === true
  );
}
