import { DynamicModule, Module } from '@nestjs/common';
import { IncidentService } from './incident.service';
import { IncidentsOptions, INCIDENTS_OPTIONS } from './incident.types';
import { ServiceStatusReporter } from './service-status.reporter';

/**
 * The incident tracker (every 5xx through ProblemFilter, plus `IncidentService.record` for
 * consumers and jobs) and this process's readiness reports. Every app imports it once:
 * `IncidentsModule.forRoot({ service: SERVICE })`.
 */
@Module({})
export class IncidentsModule {
  static forRoot(options: IncidentsOptions): DynamicModule {
    return {
      module: IncidentsModule,
      global: true,
      providers: [{ provide: INCIDENTS_OPTIONS, useValue: options }, IncidentService, ServiceStatusReporter],
      exports: [IncidentService, ServiceStatusReporter],
    };
  }
}
