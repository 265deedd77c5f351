import type { FastifyRequest } from 'fastify';
import { ProviderErrorResponse, graphError } from './errors';
import { bearerToken, isRecord, readString } from './util';

/** One Graph API call, after the version prefix, token and parameters have been read. */
export interface GraphCall {
  method: 'GET' | 'POST' | 'DELETE';
  version: string;
  node: string;
  edge?: string;
  /** Query and body merged, as Graph treats them; JSON-encoded values already decoded. */
  params: Record<string, unknown>;
  token: string | undefined;
}

/**
 * Graph reads parameters from the query string and the body alike, and form-encoded clients send
 * arrays and objects as JSON text (`special_ad_categories=[]`, `filtering=[{...}]`).
 */
export function graphParams(request: FastifyRequest): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const source of [request.query, request.body]) {
    if (!isRecord(source)) continue;
    for (const [key, value] of Object.entries(source)) merged[key] = decodeJsonText(value);
  }
  return merged;
}

function decodeJsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (!(trimmed.startsWith('[') || trimmed.startsWith('{'))) return value;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return value;
  }
}

export function graphToken(request: FastifyRequest, params: Record<string, unknown>): string | undefined {
  const fromHeader = bearerToken(request.headers.authorization);
  if (fromHeader !== undefined) return fromHeader;
  const fromParams = readString(params, 'access_token');
  return fromParams === undefined || fromParams.trim() === '' ? undefined : fromParams.trim();
}

/** `fields=id,name,insights{spend},ads.limit(5)` → `['id', 'name', 'insights', 'ads']`; nested selections are ignored. */
export function requestedFields(params: Record<string, unknown>): string[] | undefined {
  const raw = params['fields'];
  const text = Array.isArray(raw) ? raw.filter((item) => typeof item === 'string').join(',') : raw;
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '{' || ch === '(') depth += 1;
    if (ch === '}' || ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((part) => part.trim().split(/[{(.]/)[0].trim()).filter((part) => part !== '');
}

/** Keeps `id` plus the requested fields that the object has, like Graph does. */
export function project(
  view: Record<string, unknown>,
  fields: string[] | undefined,
): Record<string, unknown> {
  if (fields === undefined) return view;
  const out: Record<string, unknown> = {};
  for (const field of fields) {
    if (field in view) out[field] = view[field];
  }
  if ('id' in view) out['id'] = view['id'];
  return out;
}

/**
 * One page of an edge listing with Graph's cursor paging. `nextBaseUrl` (the edge's own URL) lets
 * the answer carry a `next` link that repeats the caller's parameters, as Graph does.
 */
export function graphCursorPage<T>(
  items: T[],
  params: Record<string, unknown>,
  nextBaseUrl?: string,
  defaultLimit = 25,
): { data: T[]; paging: Record<string, unknown> } {
  const rawLimit = Number(params['limit']);
  const limit = Number.isInteger(rawLimit) && rawLimit > 0 ? Math.min(rawLimit, 500) : defaultLimit;
  const after = readString(params, 'after');
  let start = 0;
  if (after !== undefined) {
    const decoded = Number(Buffer.from(after, 'base64').toString('utf8'));
    if (Number.isInteger(decoded) && decoded >= 0) start = decoded + 1;
  }
  const data = items.slice(start, start + limit);
  if (data.length === 0) return { data, paging: {} };
  const cursor = (index: number): string => Buffer.from(String(index), 'utf8').toString('base64');
  const paging: Record<string, unknown> = {
    cursors: { before: cursor(start), after: cursor(start + data.length - 1) },
  };
  if (nextBaseUrl !== undefined && start + data.length < items.length) {
    const next = new URL(nextBaseUrl);
    for (const [key, value] of Object.entries(params)) {
      if (key === 'after' || key === 'limit' || key === 'id' || value === undefined || value === null)
        continue;
      next.searchParams.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    next.searchParams.set('limit', String(limit));
    next.searchParams.set('after', cursor(start + data.length - 1));
    paging['next'] = next.toString();
  }
  return { data, paging };
}

export function unknownEdge(node: string, edge: string): ProviderErrorResponse {
  return graphError(400, 100, `(#100) Tried accessing nonexisting field (${edge}) on node type (${node})`, {
    type: 'GraphMethodException',
  });
}
