export * from './whatsapp.errors';
export * from './logger';
export * from './flow/flow.types';
export { normalizeKeyword, parseOptionNumber } from './flow/keyword';
export * from './flow/flow-validation';
export * from './flow/flow-engine';
export * from './crypto/token-cipher';
export * from './ai/ai-guardrails';
export * from './ai/ai-reply.client';
export * from './whatsapp-webhook.types';

// The Nest layer: persistence, Graph, services and the module both apps import.
export * from './nest/whatsapp.options';
export * from './nest/whatsapp-api.errors';
export * from './nest/token-vault';
export * from './nest/whatsapp.module';
export * from './nest/whatsapp.metrics';
export * from './graph/whatsapp-graph.client';
export * from './graph/whatsapp-graph.errors';
export * from './connections/token-status';
export * from './connections/connection.row';
export * from './connections/connections.service';
export * from './onboarding/onboarding.service';
export * from './flows/flows.service';
export * from './conversations/conversations.service';
export * from './conversations/conversation-state.store';
export * from './inbound/inbound.service';
export * from './inbound/ai-replies.service';
export * from './jobs/nightly-cleanup.service';
