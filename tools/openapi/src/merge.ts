import type { OpenAPIObject } from '@nestjs/swagger';
import { PublicService, routeOf } from './gateway-routes';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Section = Record<string, unknown>;

export interface ServiceDocument {
  service: PublicService;
  document: OpenAPIObject;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const REF_PREFIX = '#/components/';

export const MERGED_INFO = {
  title: 'RealApp API',
  description:
    'The public API of RealApp as the API gateway serves it (SPEC §15): auth-api, queue-api and webhook-gateway ' +
    'behind one origin. Generated from the services’ code by tools/openapi; the typed client @realapp/client is ' +
    'generated from this document.',
  version: '1.0.0',
};

/** `queue-api` → `QueueApi`: the prefix a component gets when two services define it differently. */
export function servicePrefix(service: string): string {
  return service
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

/**
 * The merged document of the public services: every path the gateway routes to the service that documents
 * it (health, metrics and docs stay per service), the components those paths reach, and, where two services
 * define a component or an operationId differently, each service's version under its own prefixed name
 * (`QueueApi_PageDto`), so nothing is silently overwritten.
 */
export function mergeDocuments(inputs: readonly ServiceDocument[]): OpenAPIObject {
  const parts = inputs.map(({ service, document }) => routedPart(service, document));
  resolveComponentConflicts(parts);
  resolveOperationIdConflicts(parts);

  const paths: Record<string, unknown> = {};
  const components: Record<string, Section> = {};
  const tags = new Map<string, unknown>();
  for (const part of parts) {
    Object.assign(paths, part.paths);
    for (const [section, entries] of Object.entries(part.components)) {
      components[section] = { ...(components[section] ?? {}), ...entries };
    }
    for (const tag of part.tags) tags.set(tag.name, tag);
  }
  const base = inputs[0]?.document;
  const merged: Record<string, unknown> = {
    openapi: base?.openapi ?? '3.0.0',
    info: MERGED_INFO,
    paths,
    components,
  };
  if (tags.size) merged.tags = [...tags.values()];
  return JSON.parse(JSON.stringify(merged)) as OpenAPIObject;
}

interface Part {
  service: PublicService;
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, Section>;
  tags: Array<{ name: string }>;
}

function routedPart(service: PublicService, document: OpenAPIObject): Part {
  const source = JSON.parse(JSON.stringify(document)) as {
    paths?: Record<string, Record<string, unknown>>;
    components?: Record<string, Section>;
    tags?: Array<{ name: string }>;
  };
  const paths: Part['paths'] = {};
  for (const [path, item] of Object.entries(source.paths ?? {})) {
    if (routeOf(path) === service) paths[path] = item;
  }
  const allComponents = source.components ?? {};
  const reachable = reachableComponents(paths, allComponents);
  const components: Part['components'] = {};
  for (const [section, entries] of Object.entries(allComponents)) {
    // Security schemes are named by `security` requirements, not by $ref: keep them all.
    const kept = Object.entries(entries).filter(
      ([name]) => section === 'securitySchemes' || reachable.has(ref(section, name)),
    );
    if (kept.length) components[section] = Object.fromEntries(kept);
  }
  const usedTags = new Set<string>();
  for (const item of Object.values(paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method] as { tags?: string[] } | undefined;
      for (const tag of operation?.tags ?? []) usedTags.add(tag);
    }
  }
  const tags = (source.tags ?? []).filter((tag) => usedTags.has(tag.name));
  return { service, paths, components, tags };
}

function ref(section: string, name: string): string {
  return `${REF_PREFIX}${section}/${name}`;
}

function reachableComponents(roots: unknown, components: Record<string, Section>): Set<string> {
  const seen = new Set<string>();
  const queue: unknown[] = [roots];
  while (queue.length) {
    const node = queue.pop();
    for (const target of refsIn(node)) {
      if (seen.has(target)) continue;
      seen.add(target);
      const [section, name] = target.slice(REF_PREFIX.length).split('/');
      const definition = components[section]?.[name];
      if (definition !== undefined) queue.push(definition);
    }
  }
  return seen;
}

function refsIn(node: unknown, found: string[] = []): string[] {
  if (typeof node === 'string') {
    if (node.startsWith(REF_PREFIX)) found.push(node);
  } else if (Array.isArray(node)) {
    for (const item of node) refsIn(item, found);
  } else if (node && typeof node === 'object') {
    for (const value of Object.values(node)) refsIn(value, found);
  }
  return found;
}

/**
 * Renames, per service, every component two services define differently. A rename changes the definitions
 * that reference it, which can make them differ in turn, so this runs until nothing new conflicts.
 */
function resolveComponentConflicts(parts: Part[]): void {
  for (;;) {
    const renames = new Map<Part, Map<string, string>>();
    const bySectionAndName = new Map<string, Array<{ part: Part; canonical: string }>>();
    for (const part of parts) {
      for (const [section, entries] of Object.entries(part.components)) {
        if (section === 'securitySchemes') continue;
        for (const [name, definition] of Object.entries(entries)) {
          const key = ref(section, name);
          const list = bySectionAndName.get(key) ?? [];
          list.push({ part, canonical: canonicalJson(definition) });
          bySectionAndName.set(key, list);
        }
      }
    }
    for (const [key, definitions] of bySectionAndName) {
      if (new Set(definitions.map((d) => d.canonical)).size < 2) continue;
      const [section, name] = key.slice(REF_PREFIX.length).split('/');
      for (const { part } of definitions) {
        const partRenames = renames.get(part) ?? new Map<string, string>();
        partRenames.set(key, ref(section, `${servicePrefix(part.service)}_${name}`));
        renames.set(part, partRenames);
      }
    }
    if (renames.size === 0) return;
    for (const [part, partRenames] of renames) applyRenames(part, partRenames);
  }
}

function applyRenames(part: Part, renames: Map<string, string>): void {
  const rewrite = (node: unknown): unknown => {
    if (typeof node === 'string') return renames.get(node) ?? node;
    if (Array.isArray(node)) return node.map(rewrite);
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, rewrite(value)]));
    }
    return node;
  };
  part.paths = rewrite(part.paths) as Part['paths'];
  const components: Part['components'] = {};
  for (const [section, entries] of Object.entries(part.components)) {
    components[section] = {};
    for (const [name, definition] of Object.entries(entries)) {
      const renamed = renames.get(ref(section, name));
      const newName = renamed ? renamed.slice(REF_PREFIX.length + section.length + 1) : name;
      if (newName in components[section]) {
        throw new Error(
          `${part.service}: component ${section}/${newName} already exists; rename it in the service`,
        );
      }
      components[section][newName] = rewrite(definition);
    }
  }
  part.components = components;
}

/** Nest names operations `<Controller>_<method>`; two services may both have one. */
function resolveOperationIdConflicts(parts: Part[]): void {
  const owners = new Map<string, Set<PublicService>>();
  for (const part of parts) {
    for (const operation of operationsOf(part)) {
      if (!operation.operationId) continue;
      const set = owners.get(operation.operationId) ?? new Set<PublicService>();
      set.add(part.service);
      owners.set(operation.operationId, set);
    }
  }
  for (const part of parts) {
    for (const operation of operationsOf(part)) {
      if (operation.operationId && (owners.get(operation.operationId)?.size ?? 0) > 1) {
        operation.operationId = `${servicePrefix(part.service)}_${operation.operationId}`;
      }
    }
  }
}

function operationsOf(part: Part): Array<{ operationId?: string }> {
  const operations: Array<{ operationId?: string }> = [];
  for (const item of Object.values(part.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (operation && typeof operation === 'object') operations.push(operation as { operationId?: string });
    }
  }
  return operations;
}

/** JSON with object keys sorted, so equal definitions compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value as Json));
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys(value[key])]),
    );
  }
  return value;
}
