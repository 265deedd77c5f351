import { WhatsAppError } from '../whatsapp.errors';
import { ConversationState, Flow, FlowNode } from './flow.types';
import { normalizeKeyword, parseOptionNumber } from './keyword';

/** The conversation moved (or started): send `message` and store `nodeId` as the current node. */
export interface FlowReply {
  kind: 'reply';
  nodeId: string;
  message: string;
  /** Why: a new conversation, a keyword, or an option number. Handy in logs and metrics. */
  via: 'start' | 'keyword' | 'number';
}

/**
 * Nothing matched: the conversation stays at `nodeId`; `message` is that node's text, which
 * SPEC §16 sends again unless an AI reply (§14) is used instead.
 */
export interface FlowNoMatch {
  kind: 'no_match';
  nodeId: string;
  message: string;
}

export type FlowStep = FlowReply | FlowNoMatch;

/**
 * Chooses the answer to one inbound text (SPEC §16). A sender without a conversation, or whose
 * current node is gone from the published flow, gets the start node whatever they wrote.
 * Otherwise the whole message is compared with the current node's options, first as a keyword
 * (see `normalizeKeyword`: trimmed, any case, accents ignored), then as a 1-based option number.
 *
 * The flow must be one `validateFlow` accepted; a dangling start or next is a programming
 * error and throws `WhatsAppError('flow_invalid')` rather than answering something random.
 */
export function nextStep(flow: Flow, state: ConversationState, input: string): FlowStep {
  const current = state.currentNodeId === null ? undefined : findNode(flow, state.currentNodeId);
  if (current === undefined) {
    const start = requireNode(flow, flow.start, 'start');
    return { kind: 'reply', nodeId: start.id, message: start.message, via: 'start' };
  }

  const keyword = normalizeKeyword(input);
  let via: FlowReply['via'] = 'keyword';
  let chosen =
    keyword.length === 0 ? -1 : current.options.findIndex((o) => normalizeKeyword(o.match) === keyword);
  if (chosen === -1) {
    const number = parseOptionNumber(input);
    if (number !== null && number >= 1 && number <= current.options.length) {
      chosen = number - 1;
      via = 'number';
    }
  }
  if (chosen === -1) return { kind: 'no_match', nodeId: current.id, message: current.message };

  const next = requireNode(flow, current.options[chosen].next, `${current.id}.options[${chosen}].next`);
  return { kind: 'reply', nodeId: next.id, message: next.message, via };
}

/**
 * The text to send for a no-match when no AI reply is used: the flow's `fallbackMessage` when it
 * has one, else the current node's message again (SPEC §16).
 */
export function fallbackMessageFor(flow: Flow, step: FlowNoMatch): string {
  const fallback = flow.fallbackMessage;
  return fallback !== undefined && fallback.trim().length > 0 ? fallback : step.message;
}

/** First node with the id wins, the same node `validateFlow` checks reachability from. */
function findNode(flow: Flow, id: string): FlowNode | undefined {
  return flow.nodes.find((node) => node.id === id);
}

function requireNode(flow: Flow, id: string, where: string): FlowNode {
  const node = findNode(flow, id);
  if (node === undefined)
    throw new WhatsAppError('flow_invalid', `${where} points at a node that does not exist`);
  return node;
}
