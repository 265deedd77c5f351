export * from './incident-rules';
export * from './incident-report';
export * from './incident.types';
export * from './incident.service';
export * from './service-status.reporter';
export * from './incidents.module';
