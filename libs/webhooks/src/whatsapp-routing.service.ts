import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { WhatsAppNumberMappedData } from '@realapp/contracts';

/**
 * Which tenant a WhatsApp number belongs to, as the gateway needs it to route inbound messages
 * (SPEC §7, §14). Fed by `auth.whatsapp_number.mapped`; the gateway keeps its own copy so routing
 * never waits on another service.
 */
@Injectable()
export class WhatsAppRoutingService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async tenantFor(phoneNumberId: string, manager: EntityManager = this.dataSource.manager): Promise<string | null> {
    const rows = (await manager.query(`SELECT tenant_id FROM webhooks.whatsapp_numbers WHERE phone_number_id = $1`, [
      phoneNumberId,
    ])) as Array<{ tenant_id: string }>;
    return rows[0]?.tenant_id ?? null;
  }

  /** Applies a mapping unless a newer one is already there (redeliveries arrive in any order). */
  async applyMapping(tx: EntityManager, mapping: WhatsAppNumberMappedData, occurredAt: string): Promise<void> {
    await tx.query(
      `INSERT INTO webhooks.whatsapp_numbers (phone_number_id, tenant_id, waba_id, display_phone_number, mapped_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (phone_number_id) DO UPDATE
         SET tenant_id = EXCLUDED.tenant_id, waba_id = EXCLUDED.waba_id,
             display_phone_number = EXCLUDED.display_phone_number, mapped_at = EXCLUDED.mapped_at, updated_at = now()
         WHERE webhooks.whatsapp_numbers.mapped_at <= EXCLUDED.mapped_at`,
      [mapping.phoneNumberId, mapping.tenantId, mapping.wabaId, mapping.displayPhoneNumber, occurredAt],
    );
  }
}
