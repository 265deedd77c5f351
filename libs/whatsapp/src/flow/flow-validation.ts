import { Flow, FLOW_LIMITS, FlowFieldError } from './flow.types';
import { normalizeKeyword, parseOptionNumber } from './keyword';

type UnknownRecord = Record<string, unknown>;

const isRecord = (value: unknown): value is UnknownRecord =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Ids and keywords are echoed in messages; a hostile 1 MB id must not come back whole. */
const quote = (value: string): string => JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);

/**
 * Every reason a flow cannot be saved, as `{field, message}` (empty when it is valid). Takes the
 * raw body so it can run before anything trusts its shape, and never throws.
 *
 * Fields name nodes by id (`nodes.<id>`, `nodes.<id>.message`, `nodes.<id>.options[0].next`,
 * option indexes 0-based like the JSON array). A node whose own id is missing or malformed
 * cannot be named that way and is named by position instead (`nodes[3]`, `nodes[3].id`).
 * A missing or unknown start is reported on `start`. Unknown extra properties are left to the
 * HTTP layer's DTO whitelist.
 */
export function validateFlow(input: unknown): FlowFieldError[] {
  const errors: FlowFieldError[] = [];
  const fail = (field: string, message: string): void => {
    errors.push({ field, message });
  };

  if (!isRecord(input)) {
    fail('flow', 'must be an object with start and nodes');
    return errors;
  }

  if (input['fallbackMessage'] !== undefined) checkText(input['fallbackMessage'], 'fallbackMessage', fail);

  const nodes = input['nodes'];
  const nodeList: unknown[] = Array.isArray(nodes) ? nodes : [];
  if (!Array.isArray(nodes)) fail('nodes', 'must be an array of nodes');
  else if (nodes.length === 0) fail('nodes', 'must contain at least one node');
  else if (nodes.length > FLOW_LIMITS.maxNodes)
    fail('nodes', `must contain at most ${FLOW_LIMITS.maxNodes} nodes`);

  // Pass 1: name every node and collect the ids that options and start may point at.
  const labels: string[] = [];
  const firstIndexById = new Map<string, number>();
  nodeList.forEach((node, index) => {
    const id = isRecord(node) ? node['id'] : undefined;
    if (typeof id === 'string' && FLOW_LIMITS.nodeIdPattern.test(id)) {
      const label = `nodes.${id}`;
      labels.push(label);
      if (firstIndexById.has(id)) fail(label, `duplicate node id ${quote(id)}: node ids must be unique`);
      else firstIndexById.set(id, index);
      return;
    }
    const label = `nodes[${index}]`;
    labels.push(label);
    if (!isRecord(node)) fail(label, 'must be an object with id, message and options');
    else fail(`${label}.id`, 'must be 1 to 64 characters of letters, digits, "_" or "-"');
  });

  // Pass 2: each node's own content.
  nodeList.forEach((node, index) => {
    if (!isRecord(node)) return;
    const label = labels[index];
    checkText(node['message'], `${label}.message`, fail);
    checkOptions(node['options'], label, firstIndexById, fail);
  });

  const start = input['start'];
  const startIsKnown = typeof start === 'string' && firstIndexById.has(start);
  if (typeof start !== 'string' || start.length === 0) fail('start', 'is required: the id of the first node');
  else if (!startIsKnown) fail('start', `no node has the id ${quote(start)}`);

  // Reachability only means something from a real start; otherwise every node would be flagged.
  if (startIsKnown) {
    const reached = reachableFrom(start, nodeList, firstIndexById);
    for (const [id] of firstIndexById) {
      if (!reached.has(id)) fail(`nodes.${id}`, 'is unreachable from the start node');
    }
  }
  return errors;
}

/** A type guard for callers that only need yes or no. */
export function isValidFlow(input: unknown): input is Flow {
  return validateFlow(input).length === 0;
}

function checkText(value: unknown, field: string, fail: (field: string, message: string) => void): void {
  if (typeof value !== 'string' || value.trim().length === 0) fail(field, 'must be a non-empty text');
  else if (value.length > FLOW_LIMITS.maxMessageLength)
    fail(field, `must be at most ${FLOW_LIMITS.maxMessageLength} characters (WhatsApp's limit)`);
}

function checkOptions(
  options: unknown,
  label: string,
  knownIds: ReadonlyMap<string, number>,
  fail: (field: string, message: string) => void,
): void {
  if (!Array.isArray(options)) {
    fail(`${label}.options`, 'must be an array (empty for a final node)');
    return;
  }
  if (options.length > FLOW_LIMITS.maxOptionsPerNode)
    fail(`${label}.options`, `must contain at most ${FLOW_LIMITS.maxOptionsPerNode} options`);

  const seenKeywords = new Map<string, number>();
  options.forEach((option, index) => {
    const field = `${label}.options[${index}]`;
    if (!isRecord(option)) {
      fail(field, 'must be an object with match and next');
      return;
    }

    const match = option['match'];
    const keyword = typeof match === 'string' ? normalizeKeyword(match) : '';
    if (typeof match !== 'string' || keyword.length === 0) {
      fail(`${field}.match`, 'must be a non-empty keyword');
    } else if (match.length > FLOW_LIMITS.maxMatchLength) {
      fail(`${field}.match`, `must be at most ${FLOW_LIMITS.maxMatchLength} characters`);
    } else {
      const previous = seenKeywords.get(keyword);
      const number = parseOptionNumber(match);
      if (previous !== undefined) {
        fail(`${field}.match`, `same keyword as options[${previous}] (case and accents are ignored)`);
      } else if (number !== null && number !== index + 1) {
        // Customers may also answer with an option's number; a numeric keyword that is another
        // option's number would make "2" mean two different things.
        fail(`${field}.match`, `a numeric keyword must be the option's own number (${index + 1})`);
      } else {
        seenKeywords.set(keyword, index);
      }
    }

    const next = option['next'];
    if (typeof next !== 'string' || next.length === 0) fail(`${field}.next`, 'is required: the id of a node');
    else if (!knownIds.has(next)) fail(`${field}.next`, `no node has the id ${quote(next)}`);
  });
}

function reachableFrom(
  start: string,
  nodes: unknown[],
  firstIndexById: ReadonlyMap<string, number>,
): Set<string> {
  const reached = new Set<string>([start]);
  const queue = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const index = firstIndexById.get(queue[head]);
    const node = index === undefined ? undefined : nodes[index];
    const options = isRecord(node) && Array.isArray(node['options']) ? node['options'] : [];
    for (const option of options) {
      const next = isRecord(option) ? option['next'] : undefined;
      if (typeof next === 'string' && firstIndexById.has(next) && !reached.has(next)) {
        reached.add(next);
        queue.push(next);
      }
    }
  }
  return reached;
}
