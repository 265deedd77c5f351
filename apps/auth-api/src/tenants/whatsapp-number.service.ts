import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { WhatsAppNumberMapped, whatsAppNumberLockName } from '@realapp/contracts';
import { OutboxService } from '@realapp/messaging';
import { lockInTransaction } from '@realapp/platform';
import { AuthError } from '../shared/auth.errors';
import { iso } from '../shared/timestamps';
import { WhatsAppNumberView } from '../shared/views';
import { MapWhatsAppNumberRequest } from './tenants.dto';
import { TenantService } from './tenant.service';

interface NumberRow {
  phone_number_id: string;
  tenant_id: string;
  waba_id: string;
  display_phone_number: string;
  created_at: Date;
  updated_at: Date;
}

/**
 * Maps a WhatsApp phone_number_id to its tenant (SPEC §4, §14). A number belongs to one tenant,
 * whether a super-admin mapped it or a completed Embedded Signup connected it (SPEC §16);
 * mapping it again to the same tenant is idempotent. Each change publishes WhatsAppNumberMapped
 * through the outbox in the same transaction, so the webhook-gateway's routing table follows.
 */
@Injectable()
export class WhatsAppNumberService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tenants: TenantService,
    private readonly outbox: OutboxService,
  ) {}

  async map(tenantId: string, body: MapWhatsAppNumberRequest): Promise<WhatsAppNumberView> {
    return this.dataSource.transaction(async (tx) => {
      await this.tenants.lockExisting(tx, tenantId);
      await lockInTransaction(tx, whatsAppNumberLockName(body.phoneNumberId));
      // A live connection another tenant made through Embedded Signup holds the number too; a
      // disconnected one gave it up (the rule of whatsapp.connections_live_phone_uq).
      const [connected] = (await tx.query(
        `SELECT 1 FROM whatsapp.connections
          WHERE phone_number_id = $1 AND status <> 'disconnected' AND tenant_id IS DISTINCT FROM $2 LIMIT 1`,
        [body.phoneNumberId, tenantId],
      )) as unknown[];
      if (connected !== undefined) throw numberTaken();
      const inserted = (await tx.query(
        `INSERT INTO auth.whatsapp_numbers (phone_number_id, tenant_id, waba_id, display_phone_number)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (phone_number_id) DO NOTHING
         RETURNING *`,
        [body.phoneNumberId, tenantId, body.wabaId, body.displayPhoneNumber],
      )) as NumberRow[];
      let row = inserted[0];
      let changed = row !== undefined;
      if (!row) {
        const [existing] = (await tx.query(
          `SELECT * FROM auth.whatsapp_numbers WHERE phone_number_id = $1 FOR UPDATE`,
          [body.phoneNumberId],
        )) as NumberRow[];
        if (existing.tenant_id !== tenantId) {
          throw numberTaken();
        }
        row = existing;
        if (existing.waba_id !== body.wabaId || existing.display_phone_number !== body.displayPhoneNumber) {
          const [updated] = (await tx.query(
            `UPDATE auth.whatsapp_numbers SET waba_id = $2, display_phone_number = $3, updated_at = now()
              WHERE phone_number_id = $1 RETURNING *`,
            [body.phoneNumberId, body.wabaId, body.displayPhoneNumber],
          )) as [NumberRow[], number];
          row = updated[0];
          changed = true;
        }
      }
      if (changed) {
        await this.outbox.enqueue(tx, WhatsAppNumberMapped, {
          tenantId,
          data: {
            tenantId,
            phoneNumberId: row.phone_number_id,
            wabaId: row.waba_id,
            displayPhoneNumber: row.display_phone_number,
          },
        });
      }
      return view(row);
    });
  }
}

const numberTaken = (): AuthError =>
  new AuthError('whatsapp_number_taken', 'This WhatsApp number is mapped to another tenant.');

function view(row: NumberRow): WhatsAppNumberView {
  return {
    phoneNumberId: row.phone_number_id,
    wabaId: row.waba_id,
    displayPhoneNumber: row.display_phone_number,
    tenantId: row.tenant_id,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}
