export * from './rate-limit.errors';
export * from './rate-limit.service';
export * from './rate-limit.module';
export * from './tenant-rate-limit.interceptor';
export * from './skip-ip-rate-limit.decorator';
export * from './ip-rate-limit.hook';
export * from './signed-webhook.decorator';
export * from './periodic-job-gate';
