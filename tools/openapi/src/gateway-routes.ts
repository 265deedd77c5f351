/** The services behind the API gateway (codex-worker has no public API). */
export const PUBLIC_SERVICES = ['auth-api', 'queue-api', 'webhook-gateway'] as const;
export type PublicService = (typeof PUBLIC_SERVICES)[number];

export interface GatewayRoute {
  /** `prefix` is nginx's `location ^~`, `exact` its `location =`. */
  match: 'prefix' | 'exact';
  path: string;
  service: PublicService;
}

/**
 * SPEC §15, the same table as the `location` blocks of deploy/gateway/gateway.conf.template (a unit test
 * holds the two together). The merged OpenAPI document keeps exactly the paths the gateway sends to the
 * service that documents them.
 */
export const GATEWAY_ROUTES: readonly GatewayRoute[] = [
  { match: 'prefix', path: '/v1/auth/', service: 'auth-api' },
  { match: 'prefix', path: '/v1/super/', service: 'auth-api' },
  { match: 'prefix', path: '/.well-known/', service: 'auth-api' },
  { match: 'prefix', path: '/v1/billing/', service: 'queue-api' },
  { match: 'prefix', path: '/v1/ads/', service: 'queue-api' },
  { match: 'prefix', path: '/v1/whatsapp/', service: 'queue-api' },
  { match: 'prefix', path: '/v1/ops/', service: 'queue-api' },
  { match: 'prefix', path: '/v1/ops/webhook-events', service: 'webhook-gateway' },
  { match: 'exact', path: '/status', service: 'queue-api' },
  { match: 'prefix', path: '/status/', service: 'queue-api' },
  { match: 'prefix', path: '/v1/webhooks/', service: 'webhook-gateway' },
];

/** Which service the gateway sends a path to (nginx semantics: exact first, then the longest prefix). */
export function routeOf(path: string): PublicService | null {
  const exact = GATEWAY_ROUTES.find((route) => route.match === 'exact' && route.path === path);
  if (exact) return exact.service;
  let best: GatewayRoute | null = null;
  for (const route of GATEWAY_ROUTES) {
    if (
      route.match === 'prefix' &&
      path.startsWith(route.path) &&
      (!best || route.path.length > best.path.length)
    ) {
      best = route;
    }
  }
  return best?.service ?? null;
}
