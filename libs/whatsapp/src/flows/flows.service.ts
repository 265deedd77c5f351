import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { FieldError, lockInTransaction, validationFailed } from '@realapp/platform';
import { validateFlow } from '../flow/flow-validation';
import { Flow, FlowNode } from '../flow/flow.types';
import { notFound } from '../nest/whatsapp-api.errors';

export const FLOW_DOMAIN_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

export type FlowStatus = 'draft' | 'published';

/** SPEC §14: `{domain, version, status, start, nodes}`, plus the optional fallback and the dates. */
export interface FlowView {
  domain: string;
  version: number;
  status: FlowStatus;
  start: string;
  nodes: FlowNode[];
  fallbackMessage?: string;
  createdAt: string;
  publishedAt: string | null;
}

interface FlowRow {
  id: string;
  tenant_id: string;
  domain: string;
  version: number;
  status: FlowStatus;
  definition: Flow;
  created_at: Date;
  published_at: Date | null;
}

/** The flow inbound messages are answered with: the tenant's most recently published version. */
export interface LiveFlow {
  domain: string;
  version: number;
  flow: Flow;
}

const NODE_FIELDS = new Set(['id', 'message', 'options']);
const OPTION_FIELDS = new Set(['match', 'next']);

/**
 * Versioned chatbot flows per tenant and domain (SPEC §14, §16): every PUT is a new draft
 * version, publish marks the latest one live, and every version stays readable.
 */
@Injectable()
export class FlowsService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async latest(tenantId: string, domain: string, version?: number): Promise<FlowView> {
    const [row] = (await this.dataSource.query(
      `SELECT * FROM whatsapp.flows WHERE tenant_id = $1 AND domain = $2 AND ($3::int IS NULL OR version = $3)
       ORDER BY version DESC LIMIT 1`,
      [tenantId, domain, version ?? null],
    )) as FlowRow[];
    if (!row) throw notFound('flow');
    return flowView(row);
  }

  /** Validates the whole graph and saves it as the next draft version; nothing is written when it is refused. */
  async saveDraft(tenantId: string, domain: string, body: unknown, userId: string | null): Promise<FlowView> {
    const errors: FieldError[] = [...validateFlow(body), ...unknownNestedFields(body)];
    if (errors.length > 0) throw validationFailed(errors, 'The flow is not valid.');
    const definition = normalise(body as Flow);
    return this.dataSource.transaction(async (tx) => {
      await lockFlow(tx, tenantId, domain);
      const [{ next }] = (await tx.query(
        `SELECT COALESCE(max(version), 0) + 1 AS next FROM whatsapp.flows WHERE tenant_id = $1 AND domain = $2`,
        [tenantId, domain],
      )) as Array<{ next: number }>;
      const [row] = (await tx.query(
        `INSERT INTO whatsapp.flows (id, tenant_id, domain, version, status, definition, created_by)
         VALUES ($1, $2, $3, $4, 'draft', $5::jsonb, $6) RETURNING *`,
        [randomUUID(), tenantId, domain, next, JSON.stringify(definition), userId],
      )) as FlowRow[];
      return flowView(row);
    });
  }

  /** Publishes the latest version; publishing an already published latest version answers it again. */
  async publish(tenantId: string, domain: string): Promise<FlowView> {
    return this.dataSource.transaction(async (tx) => {
      await lockFlow(tx, tenantId, domain);
      const [row] = (await tx.query(
        `SELECT * FROM whatsapp.flows WHERE tenant_id = $1 AND domain = $2 ORDER BY version DESC LIMIT 1`,
        [tenantId, domain],
      )) as FlowRow[];
      if (!row) throw notFound('flow');
      if (row.status === 'published') return flowView(row);
      const [updated] = (await tx.query(
        `UPDATE whatsapp.flows SET status = 'published', published_at = clock_timestamp() WHERE id = $1 RETURNING *`,
        [row.id],
      )) as [FlowRow[], number];
      return flowView(updated[0]);
    });
  }

  /** Read for every inbound message, so a newly published version answers the next one. */
  async live(tenantId: string, tx?: EntityManager): Promise<LiveFlow | null> {
    const [row] = (await (tx ?? this.dataSource).query(
      `SELECT domain, version, definition FROM whatsapp.flows WHERE tenant_id = $1 AND status = 'published'
       ORDER BY published_at DESC, version DESC LIMIT 1`,
      [tenantId],
    )) as Array<Pick<FlowRow, 'domain' | 'version' | 'definition'>>;
    return row ? { domain: row.domain, version: row.version, flow: row.definition } : null;
  }
}

function lockFlow(tx: EntityManager, tenantId: string, domain: string): Promise<void> {
  return lockInTransaction(tx, `whatsapp:flow:${tenantId}:${domain}`);
}

function flowView(row: FlowRow): FlowView {
  const { start, nodes, fallbackMessage } = row.definition;
  return {
    domain: row.domain,
    version: row.version,
    status: row.status,
    start,
    nodes,
    ...(fallbackMessage === undefined ? {} : { fallbackMessage }),
    createdAt: row.created_at.toISOString(),
    publishedAt: row.published_at?.toISOString() ?? null,
  };
}

/** Only what the engine reads is stored, in a fixed shape. */
function normalise(flow: Flow): Flow {
  return {
    start: flow.start,
    nodes: flow.nodes.map((node) => ({
      id: node.id,
      message: node.message,
      options: node.options.map((option) => ({ match: option.match, next: option.next })),
    })),
    ...(flow.fallbackMessage === undefined ? {} : { fallbackMessage: flow.fallbackMessage }),
  };
}

/**
 * Unknown fields inside nodes and options are refused like unknown top-level fields (SPEC §3),
 * named by node id the way `validateFlow` names everything else.
 */
function unknownNestedFields(body: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const nodes = isRecord(body) && Array.isArray(body['nodes']) ? body['nodes'] : [];
  nodes.forEach((node: unknown, index: number) => {
    if (!isRecord(node)) return;
    const id = node['id'];
    const label = typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? `nodes.${id}` : `nodes[${index}]`;
    for (const key of Object.keys(node)) if (!NODE_FIELDS.has(key)) errors.push({ field: `${label}.${key}`, message: 'unknown field' });
    const options = Array.isArray(node['options']) ? node['options'] : [];
    options.forEach((option: unknown, optionIndex: number) => {
      if (!isRecord(option)) return;
      for (const key of Object.keys(option)) {
        if (!OPTION_FIELDS.has(key)) errors.push({ field: `${label}.options[${optionIndex}].${key}`, message: 'unknown field' });
      }
    });
  });
  return errors;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
