/**
 * A tenant's chatbot flow for one domain (SPEC §14): a graph of nodes, each a message plus the
 * options a customer can answer with. This is the shape stored and served by the flows API.
 */
export interface Flow {
  /** Id of the node every new conversation starts at. */
  start: string;
  nodes: FlowNode[];
  /**
   * Optional text sent when a message matches no option and no AI reply is given (no key,
   * past a guardrail, timeout, provider error). Without it the current node's message is sent
   * again, which is SPEC §16's default; see `fallbackMessageFor`.
   */
  fallbackMessage?: string;
}

export interface FlowNode {
  /** `^[A-Za-z0-9_-]{1,64}$`, unique within the flow. */
  id: string;
  /** The WhatsApp text sent when the conversation arrives at this node. */
  message: string;
  /** Empty for a final node. A customer picks one by its keyword or by its 1-based number. */
  options: FlowOption[];
}

export interface FlowOption {
  /** A whole-message keyword, compared trimmed, ignoring case and accents. */
  match: string;
  /** Id of the node the conversation moves to. */
  next: string;
}

/** Where a sender stands in a flow; `null` when they have no conversation yet. */
export interface ConversationState {
  currentNodeId: string | null;
}

/** One complaint about a flow, named by node id so the app can point at the node. */
export interface FlowFieldError {
  field: string;
  message: string;
}

/** Graph API refuses text bodies longer than this (`text.body ≤ 4096`). */
export const WHATSAPP_TEXT_MAX_LENGTH = 4096;

export const FLOW_LIMITS = {
  maxNodes: 200,
  maxOptionsPerNode: 10,
  maxMessageLength: WHATSAPP_TEXT_MAX_LENGTH,
  /** Keywords are whole messages a person types; anything longer is a mistake in the flow. */
  maxMatchLength: 256,
  nodeIdPattern: /^[A-Za-z0-9_-]{1,64}$/,
} as const;
