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
