import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GATEWAY_ROUTES, routeOf } from './gateway-routes';

const TEMPLATE = join(__dirname, '../../../deploy/gateway/gateway.conf.template');
const UPSTREAMS: Record<string, string> = {
  realapp_auth_api: 'auth-api',
  realapp_queue_api: 'queue-api',
  realapp_webhook_gateway: 'webhook-gateway',
};

describe('gateway routes (SPEC §15)', () => {
  it.each([
    ['/v1/auth/login', 'auth-api'],
    ['/v1/auth/invites/accept', 'auth-api'],
    ['/v1/super/tenants/{tenantId}/invite-admin', 'auth-api'],
    ['/.well-known/jwks.json', 'auth-api'],
    ['/v1/billing/topups/pix', 'queue-api'],
    ['/v1/ads/orders/{id}/pause', 'queue-api'],
    ['/v1/whatsapp/flows/{domain}', 'queue-api'],
    ['/v1/ops/dead-letters', 'queue-api'],
    ['/v1/ops/auth/signing-keys/rotate', 'queue-api'],
    ['/v1/ops/webhook-events', 'webhook-gateway'],
    ['/v1/ops/webhook-events/{id}/replay', 'webhook-gateway'],
    ['/status', 'queue-api'],
    ['/status/summary', 'queue-api'],
    ['/v1/webhooks/mercadopago', 'webhook-gateway'],
  ])('%s → %s', (path, service) => {
    expect(routeOf(path)).toBe(service);
  });

  it.each([
    '/health',
    '/health/readiness',
    '/metrics',
    '/docs-json',
    '/docs',
    '/v1/auth',
    '/statusx',
    '/v2/auth/login',
    '/',
  ])('%s is not routed', (path) => {
    expect(routeOf(path)).toBeNull();
  });

  it('is the table of the nginx template, location for location', () => {
    const template = readFileSync(TEMPLATE, 'utf8');
    const locations = [
      ...template.matchAll(/location\s+(\^~|=)\s+(\S+)\s*\{\s*proxy_pass\s+http:\/\/(\w+);\s*\}/g),
    ].map(([, modifier, path, upstream]) => ({
      match: modifier === '=' ? 'exact' : 'prefix',
      path,
      service: UPSTREAMS[upstream],
    }));
    expect(locations).toEqual(GATEWAY_ROUTES);
  });
});
