import { IsInt, IsOptional, IsString, MaxLength } from 'class-validator';
import { defineEvent } from '../registry';

/**
 * Exercises the messaging machinery itself (integration tests, chaos runs, benchmarks) without
 * touching business tables.
 */
export class ProbeData {
  @IsString()
  @MaxLength(200)
  key: string;

  @IsOptional()
  @IsInt()
  failTimes?: number;
}
export const ProbeEvent = defineEvent('platform.probe', 1, ProbeData);
