import type { OpenAPIObject } from '@nestjs/swagger';
import { mergeDocuments, servicePrefix } from './merge';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const get = (operationId: string, schema: object, tags: string[] = []) => ({
  get: {
    operationId,
    tags,
    responses: { '200': { description: 'ok', content: { 'application/json': { schema } } } },
  },
});

function doc(
  paths: Record<string, object>,
  schemas: Record<string, object>,
  tags: string[] = [],
): OpenAPIObject {
  return {
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    tags: tags.map((name) => ({ name, description: name })),
  } as OpenAPIObject;
}

describe('mergeDocuments', () => {
  it('keeps only the paths the gateway routes to the service documenting them, and what they reach', () => {
    const merged = mergeDocuments([
      {
        service: 'auth-api',
        document: doc(
          {
            '/v1/auth/me': get('Me_get', ref('MeView'), ['auth']),
            '/health': get('Health_check', ref('Health'), ['health']),
            '/v1/ops/auth/signing-keys/rotate': get('Keys_rotate', ref('Rotated')),
          },
          {
            MeView: { type: 'object', properties: { user: ref('UserView') } },
            UserView: { type: 'object' },
            Health: {},
            Rotated: {},
          },
          ['auth', 'health'],
        ),
      },
      {
        service: 'queue-api',
        document: doc(
          {
            '/v1/billing/wallet': get('Wallet_get', ref('Wallet')),
            '/health': get('Health_check', ref('Health')),
          },
          { Wallet: {}, Health: {} },
        ),
      },
    ]);

    expect(Object.keys(merged.paths)).toEqual(['/v1/auth/me', '/v1/billing/wallet']);
    expect(Object.keys(merged.components?.schemas ?? {})).toEqual(['MeView', 'UserView', 'Wallet']);
    expect(merged.components?.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
    expect(merged.tags).toEqual([{ name: 'auth', description: 'auth' }]);
    expect(merged.info.title).toBe('RealApp API');
  });

  it('shares a component two services define identically (whatever the key order)', () => {
    const merged = mergeDocuments([
      {
        service: 'auth-api',
        document: doc(
          { '/v1/auth/x': get('A_x', ref('Page')) },
          { Page: { type: 'object', required: ['items'] } },
        ),
      },
      {
        service: 'queue-api',
        document: doc(
          { '/v1/ads/y': get('B_y', ref('Page')) },
          { Page: { required: ['items'], type: 'object' } },
        ),
      },
    ]);
    expect(Object.keys(merged.components?.schemas ?? {})).toEqual(['Page']);
    expect(JSON.stringify(merged.paths)).not.toContain('_Page');
  });

  it('prefixes each service’s version of a conflicting component, and what references it, rewriting the refs', () => {
    const merged = mergeDocuments([
      {
        service: 'queue-api',
        document: doc(
          { '/v1/ads/orders': get('Orders_list', ref('OrderPage')) },
          {
            OrderPage: { type: 'object', properties: { items: { type: 'array', items: ref('Item') } } },
            Item: { type: 'string' },
          },
        ),
      },
      {
        service: 'webhook-gateway',
        document: doc(
          { '/v1/ops/webhook-events': get('Events_list', ref('OrderPage')) },
          {
            OrderPage: { type: 'object', properties: { items: { type: 'array', items: ref('Item') } } },
            Item: { type: 'integer' },
          },
        ),
      },
    ]);
    const schemas = merged.components?.schemas ?? {};
    expect(Object.keys(schemas).sort()).toEqual([
      'QueueApi_Item',
      'QueueApi_OrderPage',
      'WebhookGateway_Item',
      'WebhookGateway_OrderPage',
    ]);
    expect(JSON.stringify(schemas.QueueApi_OrderPage)).toContain('#/components/schemas/QueueApi_Item');
    expect(JSON.stringify(merged.paths['/v1/ops/webhook-events'])).toContain(
      '#/components/schemas/WebhookGateway_OrderPage',
    );
  });

  it('prefixes an operationId two services both use', () => {
    const merged = mergeDocuments([
      { service: 'auth-api', document: doc({ '/v1/auth/a': get('Ops_list', {}) }, {}) },
      {
        service: 'queue-api',
        document: doc({ '/v1/ops/b': get('Ops_list', {}), '/v1/ops/c': get('Ops_other', {}) }, {}),
      },
    ]);
    const ids = Object.values(merged.paths).map(
      (item) => (item as { get: { operationId: string } }).get.operationId,
    );
    expect(ids).toEqual(['AuthApi_Ops_list', 'QueueApi_Ops_list', 'Ops_other']);
  });

  it('does not change its inputs', () => {
    const input = doc({ '/v1/ads/orders': get('O', ref('Item')) }, { Item: { type: 'string' } });
    const before = JSON.stringify(input);
    mergeDocuments([
      { service: 'queue-api', document: input },
      {
        service: 'webhook-gateway',
        document: doc({ '/v1/webhooks/x': get('W', ref('Item')) }, { Item: { type: 'integer' } }),
      },
    ]);
    expect(JSON.stringify(input)).toBe(before);
  });

  it('names prefixes after the service', () => {
    expect(['auth-api', 'queue-api', 'webhook-gateway'].map(servicePrefix)).toEqual([
      'AuthApi',
      'QueueApi',
      'WebhookGateway',
    ]);
  });
});
