import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { WhatsAppNumberMapped } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { validationFailed } from '@realapp/platform';
import { adoptOrphansOfBusiness, attachSignup } from '../connections/connection-attach';
import { ConnectionRow, connectionView, ConnectionView, uniqueViolation } from '../connections/connection.row';
import { providerError } from '../connections/connections.service';
import { PhoneNumberInfo, WhatsAppGraphClient } from '../graph/whatsapp-graph.client';
import { WhatsAppGraphError } from '../graph/whatsapp-graph.errors';
import { notFound, requireUuid, WhatsAppApiError } from '../nest/whatsapp-api.errors';
import { TokenVault } from '../nest/token-vault';
import { WHATSAPP_OPTIONS, WhatsAppModuleOptions } from '../nest/whatsapp.options';
import { lockPhoneNumber, phoneNumberMappedElsewhere } from './phone-number-owner';

/** SPEC §14: a signup session lives 30 minutes. */
export const ONBOARDING_SESSION_TTL_MS = 30 * 60 * 1000;
/** A completion that crashed midway frees its session after this long. */
const COMPLETING_LEASE_SECONDS = 120;

export interface OnboardingSessionView {
  id: string;
  trackingCode: string;
  expiresAt: string;
  appId: string;
  configId: string;
}

export interface CompleteOnboardingInput {
  code: string;
  wabaId?: string;
  phoneNumberId?: string;
  businessId?: string;
  trackingCode?: string;
}

interface SessionRow {
  id: string;
  tenant_id: string;
  tracking_code: string;
  app_id: string;
  config_id: string;
  status: 'pending' | 'completing' | 'completed';
  expires_at: Date;
  completing_since: Date | null;
}

/**
 * Embedded Signup (SPEC §14, §16): a session the app opens Meta's popup with, then its
 * completion, which exchanges the code, subscribes the app to the WABA and creates (or takes
 * over) the WABA's one connection with the token sealed at rest.
 */
@Injectable()
export class OnboardingService {
  private readonly logger = new Logger('whatsapp');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(WHATSAPP_OPTIONS) private readonly options: WhatsAppModuleOptions,
    private readonly graph: WhatsAppGraphClient,
    private readonly vault: TokenVault,
    private readonly outbox: OutboxService,
  ) {}

  async start(tenantId: string, userId: string | null): Promise<OnboardingSessionView> {
    const id = randomUUID();
    const trackingCode = randomBytes(18).toString('base64url');
    const [row] = (await this.dataSource.query(
      `INSERT INTO whatsapp.onboarding_sessions (id, tenant_id, tracking_code, app_id, config_id, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7)) RETURNING *`,
      [id, tenantId, trackingCode, this.options.meta.appId, this.options.meta.configId, userId, ONBOARDING_SESSION_TTL_MS / 1000],
    )) as SessionRow[];
    this.logger.log({ sessionId: id, trackingCode }, 'whatsapp signup session started');
    return {
      id: row.id,
      trackingCode: row.tracking_code,
      expiresAt: row.expires_at.toISOString(),
      appId: row.app_id,
      configId: row.config_id,
    };
  }

  async complete(tenantId: string, sessionIdParam: string, input: CompleteOnboardingInput): Promise<ConnectionView> {
    const sessionId = requireUuid(sessionIdParam, 'onboarding session');
    const session = await this.claim(tenantId, sessionId, input.trackingCode);
    const log = { sessionId, trackingCode: session.tracking_code };
    try {
      const exchanged = await this.graph.exchangeCode(input.code).catch((error: unknown) => {
        if (error instanceof WhatsAppGraphError && !error.retryable) {
          throw new WhatsAppApiError('onboarding_code_rejected', 'Meta refused the signup code; open the signup again for a new one.');
        }
        throw providerError(error);
      });
      const token = exchanged.accessToken;
      const wabaId = input.wabaId ?? (await this.wabaFromToken(token));
      const phone = await this.phoneNumber(wabaId, token, input.phoneNumberId);
      // Early, so a refused number does not get the app subscribed; the check that counts is below.
      if (phone !== null && (await phoneNumberMappedElsewhere(this.dataSource.manager, phone.id, tenantId))) {
        throw numberTaken();
      }
      await this.graph.subscribeApp(wabaId, token).catch((error: unknown) => {
        throw providerError(error);
      });
      const tokenExpiresAt = exchanged.expiresInSeconds === null ? null : new Date(Date.now() + exchanged.expiresInSeconds * 1000);

      const connection = await this.dataSource
        .transaction(async (tx) => {
          if (phone !== null) {
            // One number, one tenant across this path and the super-admin mapping (SPEC §4, §16).
            await lockPhoneNumber(tx, phone.id);
            if (await phoneNumberMappedElsewhere(tx, phone.id, tenantId)) throw numberTaken();
          }
          const row = await attachSignup(tx, this.vault, {
            tenantId,
            sessionId,
            wabaId,
            phoneNumberId: phone?.id ?? null,
            displayPhoneNumber: phone?.displayPhoneNumber ?? null,
            businessId: input.businessId ?? null,
            token,
            tokenExpiresAt,
          });
          await tx.query(
            `UPDATE whatsapp.onboarding_sessions
             SET status = 'completed', completed_at = now(), completing_since = NULL, connection_id = $2,
                 waba_id = $3, phone_number_id = $4, business_id = $5
             WHERE id = $1`,
            [sessionId, row.id, wabaId, phone?.id ?? null, input.businessId ?? row.business_id],
          );
          const businessId = input.businessId ?? row.business_id;
          if (businessId !== null) {
            const adopted = await adoptOrphansOfBusiness(tx, tenantId, businessId);
            if (adopted.length > 0) this.logger.log({ ...log, adopted }, 'orphan connections of the same business attached to the tenant');
          }
          if (row.phone_number_id !== null) {
            // The gateway's routing table learns the number from this (SPEC §16: no super-admin step).
            await this.outbox.enqueue(tx, WhatsAppNumberMapped, {
              tenantId,
              data: {
                tenantId,
                phoneNumberId: row.phone_number_id,
                wabaId: row.waba_id,
                displayPhoneNumber: row.display_phone_number ?? '',
              },
            });
          }
          return row;
        })
        .catch((error: unknown) => {
          if (uniqueViolation(error) === 'connections_live_phone_uq') throw numberTaken();
          throw error;
        });
      this.logger.log({ ...log, connectionId: connection.id, wabaId }, 'whatsapp signup completed');
      return connectionView(connection as ConnectionRow);
    } catch (error) {
      await this.release(sessionId);
      this.logger.warn({ ...log, code: (error as { code?: unknown }).code ?? 'error' }, 'whatsapp signup completion failed');
      throw error;
    }
  }

  /** Takes the session for this completion, or says why it cannot be used. */
  private async claim(tenantId: string, sessionId: string, trackingCode: string | undefined): Promise<SessionRow> {
    const [current] = (await this.dataSource.query(`SELECT * FROM whatsapp.onboarding_sessions WHERE id = $1 AND tenant_id = $2`, [
      sessionId,
      tenantId,
    ])) as SessionRow[];
    if (!current) throw notFound('onboarding session');
    if (trackingCode !== undefined && trackingCode !== current.tracking_code) {
      throw validationFailed([{ field: 'trackingCode', message: 'is not the tracking code of this session' }]);
    }
    const [claimed] = (await this.dataSource.query(
      `UPDATE whatsapp.onboarding_sessions SET status = 'completing', completing_since = now()
       WHERE id = $1 AND tenant_id = $2 AND expires_at > now()
         AND (status = 'pending' OR (status = 'completing' AND completing_since < now() - make_interval(secs => $3)))
       RETURNING *`,
      [sessionId, tenantId, COMPLETING_LEASE_SECONDS],
    )) as [SessionRow[], number];
    if (claimed[0]) return claimed[0];
    const [latest] = (await this.dataSource.query(`SELECT * FROM whatsapp.onboarding_sessions WHERE id = $1`, [sessionId])) as SessionRow[];
    if (latest.status === 'completing' && latest.expires_at > new Date()) {
      throw new WhatsAppApiError('onboarding_in_progress', 'This signup is being completed by another request.', { 'retry-after': '2' });
    }
    throw new WhatsAppApiError('onboarding_session_unusable', 'This signup session has expired or was already completed; start a new one.');
  }

  private async release(sessionId: string): Promise<void> {
    await this.dataSource
      .query(`UPDATE whatsapp.onboarding_sessions SET status = 'pending', completing_since = NULL WHERE id = $1 AND status = 'completing'`, [
        sessionId,
      ])
      .catch((error: unknown) => this.logger.error({ err: error, sessionId }, 'could not release a signup session'));
  }

  /** Coexistence signups may not report the WABA: the token's own grants name it. */
  private async wabaFromToken(token: string): Promise<string> {
    const info = await this.graph.debugToken(token).catch((error: unknown) => {
      throw providerError(error);
    });
    if (info.wabaIds.length !== 1) {
      throw new WhatsAppApiError('waba_unknown', 'Send the wabaId the signup reported: the token does not name exactly one WABA.');
    }
    return info.wabaIds[0];
  }

  /** The number the signup named, checked against the WABA; else the WABA's first number, if any. */
  private async phoneNumber(wabaId: string, token: string, phoneNumberId: string | undefined): Promise<PhoneNumberInfo | null> {
    const numbers = await this.graph.listPhoneNumbers(wabaId, token).catch((error: unknown) => {
      throw providerError(error);
    });
    if (phoneNumberId === undefined) return numbers[0] ?? null;
    const found = numbers.find((phone) => phone.id === phoneNumberId);
    if (!found) throw new WhatsAppApiError('phone_number_not_in_waba', 'The phoneNumberId is not a number of this WhatsApp Business Account.');
    return found;
  }
}

/** SPEC §4: a number mapped elsewhere answers 409; the completion refuses it the same way. */
const numberTaken = (): WhatsAppApiError =>
  new WhatsAppApiError('whatsapp_number_taken', 'This WhatsApp number is connected to another account.');
