export * from './webhook-event.types';
export * from './webhook-envelope';
export * from './storable-headers';
export { uuidV7 } from './uuid-v7';
export { WebhookEventStore } from './webhook-event.store';
export { WhatsAppRoutingService } from './whatsapp-routing.service';
export { WebhooksModule } from './webhooks.module';
