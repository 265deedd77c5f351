import { CanActivate, ExecutionContext, Injectable, mixin, Type } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG } from '../config/config.module';
import { Inject } from '@nestjs/common';
import { splitList } from '../config/config.loader';
import { AppError } from '../http/app-error';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Constant-time comparison against every live key (two are live during a rotation). */
export function matchesAnyKey(presented: string, liveKeys: readonly string[]): boolean {
  const presentedDigest = digest(presented);
  let matched = false;
  for (const key of liveKeys) matched = timingSafeEqual(presentedDigest, digest(key)) || matched;
  return matched;
}

export interface ApiKeyPrincipal {
  kind: 'api_key';
  header: string;
  /** Which key matched, by fingerprint only: enough for the audit log, useless to an attacker. */
  keyFingerprint: string;
}

/**
 * Guards /v1/ops/* and /v1/super/*: missing key → 401 api_key_required; a wrong key, or a tenant's
 * bearer token where an API key belongs → 403 invalid_api_key (SPEC §13).
 */
export function ApiKeyGuard(header: string, configKey: string): Type<CanActivate> {
  @Injectable()
  class Guard implements CanActivate {
    private readonly keys: string[];
    constructor(@Inject(APP_CONFIG) config: Record<string, unknown>) {
      this.keys = splitList(String(config[configKey] ?? ''));
    }
    canActivate(context: ExecutionContext): boolean {
      const request = context.switchToHttp().getRequest<FastifyRequest & { principal?: ApiKeyPrincipal }>();
      const presented = request.headers[header.toLowerCase()];
      if (typeof presented !== 'string' || presented.length === 0) {
        if (request.headers.authorization) throw new AppError('invalid_api_key', 403, `This path needs ${header}, not a user token.`);
        throw new AppError('api_key_required', 401, `Send the ${header} header.`);
      }
      if (this.keys.length === 0 || !matchesAnyKey(presented, this.keys)) {
        throw new AppError('invalid_api_key', 403, `The ${header} is not valid.`);
      }
      request.principal = { kind: 'api_key', header, keyFingerprint: digest(presented).toString('hex').slice(0, 12) };
      return true;
    }
  }
  return mixin(Guard);
}

export const OpsKeyGuard = ApiKeyGuard('X-Ops-Key', 'OPS_API_KEY');
export const SuperAdminKeyGuard = ApiKeyGuard('X-Super-Admin-Key', 'SUPER_ADMIN_API_KEY');
