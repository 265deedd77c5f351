import { IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { defineEvent } from '../registry';

export class WhatsAppNumberMappedData {
  @IsUUID()
  tenantId: string;

  @IsString()
  @Matches(/^[0-9]{1,32}$/)
  phoneNumberId: string;

  @IsString()
  @Matches(/^[0-9]{1,32}$/)
  wabaId: string;

  @IsString()
  @MaxLength(32)
  displayPhoneNumber: string;
}
/** A WhatsApp number now belongs to a tenant: inbound messages to it are routed there. */
export const WhatsAppNumberMapped = defineEvent('auth.whatsapp_number.mapped', 1, WhatsAppNumberMappedData);

/**
 * The advisory lock both paths that give a number to a tenant take — auth-api's super-admin mapping
 * and the Embedded Signup completion (libs/whatsapp) — so that, each looking at the other's table
 * under it, a number cannot go to two tenants at once (SPEC §4, §16).
 */
export const whatsAppNumberLockName = (phoneNumberId: string): string =>
  `whatsapp:phone-number:${phoneNumberId}`;
