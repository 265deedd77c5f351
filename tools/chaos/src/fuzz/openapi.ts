import { randomBytes, randomUUID } from 'node:crypto';
import { call } from '../stack/http';

/** The slice of OpenAPI 3 the fuzzer reads. */
export interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  example?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
}

interface OpenApiDocument {
  paths: Record<string, Record<string, RawOperation>>;
  components?: { schemas?: Record<string, Schema> };
}

interface RawOperation {
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Array<Record<string, unknown>>;
}

export type Credential = 'bearer' | 'ops' | 'super' | 'none';

export interface Operation {
  service: string;
  baseUrl: string;
  method: string;
  /** OpenAPI template, e.g. `/v1/ads/orders/{id}`. */
  path: string;
  pathParams: string[];
  queryParams: string[];
  idempotent: boolean;
  credential: Credential;
  /** The JSON body schema, `$ref`s resolved; undefined when the operation takes no JSON body. */
  body?: Schema;
  label: string;
}

/** Every operation a service documents at /docs-json, with its body schema resolved. */
export async function loadOperations(service: string, baseUrl: string): Promise<Operation[]> {
  const answer = await call<OpenApiDocument>(baseUrl, 'GET', '/docs-json');
  if (answer.status !== 200) throw new Error(`${service} /docs-json answered ${answer.status}`);
  const document = answer.body;
  const resolve = (schema: Schema | undefined, depth = 0): Schema | undefined => {
    if (!schema || depth > 8) return schema;
    if (schema.$ref)
      return resolve(document.components?.schemas?.[schema.$ref.split('/').pop() ?? ''], depth + 1);
    return {
      ...schema,
      ...(schema.items ? { items: resolve(schema.items, depth + 1) } : {}),
      ...(schema.properties
        ? {
            properties: Object.fromEntries(
              Object.entries(schema.properties).map(([k, v]) => [k, resolve(v, depth + 1) ?? {}]),
            ),
          }
        : {}),
    };
  };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, raw] of Object.entries(methods)) {
      const schemes = (raw.security ?? []).flatMap((requirement) => Object.keys(requirement));
      const credential: Credential = schemes.includes('ops-key')
        ? 'ops'
        : schemes.includes('super-admin-key')
          ? 'super'
          : schemes.includes('bearer')
            ? 'bearer'
            : 'none';
      const parameters = raw.parameters ?? [];
      operations.push({
        service,
        baseUrl,
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        queryParams: parameters.filter((p) => p.in === 'query').map((p) => p.name),
        idempotent: parameters.some((p) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key'),
        credential,
        body: resolve(raw.requestBody?.content?.['application/json']?.schema),
        label: `${service} ${method.toUpperCase()} ${path}`,
      });
    }
  }
  return operations;
}

export interface ExampleContext {
  tenantId: string;
}

/** A value the schema accepts (examples first), for a body that fails only where a test breaks it. */
export function validExample(schema: Schema | undefined, context: ExampleContext, name = ''): unknown {
  if (!schema) return undefined;
  if (schema.example !== undefined && schema.type !== 'object') return schema.example;
  if (schema.enum?.length) return schema.enum[0];
  switch (schema.type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of schema.required ?? [])
        out[key] = validExample(schema.properties?.[key], context, key);
      return out;
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () =>
        validExample(schema.items, context, name),
      );
    case 'integer':
    case 'number':
      return schema.minimum !== undefined && schema.minimum > 0 ? schema.minimum : 1;
    case 'boolean':
      return false;
    case 'string':
      return exampleString(schema, context, name);
    case undefined:
    default:
      return undefined;
  }
}

function exampleString(schema: Schema, context: ExampleContext, name: string): string {
  switch (schema.format) {
    case 'uuid':
      return /tenant/i.test(name) ? context.tenantId : randomUUID();
    case 'email':
      return `fuzz-${randomBytes(4).toString('hex')}@example.com`;
    case 'password':
      return 'Fuzz-password-1234!';
    case 'date-time':
      return new Date(Date.now() + 86_400_000).toISOString();
    case 'uri':
      return 'https://example.com/fuzz';
    case undefined:
    default:
      break;
  }
  if (/email/i.test(name)) return `fuzz-${randomBytes(4).toString('hex')}@example.com`;
  if (/password/i.test(name)) return 'Fuzz-password-1234!';
  const text = 'fuzz_value';
  return text.padEnd(schema.minLength ?? 1, 'x').slice(0, schema.maxLength ?? text.length);
}

/** Fills `{param}` placeholders. */
export function fillPath(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? 'x');
}
