import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

/**
 * PIX "copia e cola" payloads (BR Code, an EMV-MPM TLV string) as Banco Central's manual
 * describes them, so the platform and the app can run their own BR Code validation on what the
 * sandbox hands out.
 */

export interface PixBrCodeInput {
  /** The receiver's PIX key (an EVP/random key is a UUID). */
  pixKey: string;
  /** Amount in reais; printed with 2 decimals. */
  amount: number;
  merchantName: string;
  merchantCity: string;
  /** Reference label (`62`/`05`), at most 25 characters of [A-Za-z0-9]. */
  txid: string;
}

/** CRC16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR. */
export function crc16CcittFalse(input: string): number {
  let crc = 0xffff;
  for (const byte of Buffer.from(input, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

function tlv(id: string, value: string): string {
  const length = Buffer.byteLength(value, 'utf8');
  if (length > 99) throw new Error(`BR Code field ${id} is longer than 99 bytes`);
  return `${id}${String(length).padStart(2, '0')}${value}`;
}

/** Names and cities must be plain ASCII in the BR Code; banks reject accents. */
function asciiUpper(text: string, max: number): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9 .-]/g, '')
    .toUpperCase()
    .slice(0, max)
    .trim();
}

export function buildPixBrCode(input: PixBrCodeInput): string {
  if (!(input.amount > 0)) throw new Error('BR Code amount must be positive');
  const txid = input.txid.replace(/[^A-Za-z0-9]/g, '').slice(0, 25) || '***';
  const payload =
    tlv('00', '01') +
    tlv('26', tlv('00', 'br.gov.bcb.pix') + tlv('01', input.pixKey)) +
    tlv('52', '0000') +
    tlv('53', '986') +
    tlv('54', input.amount.toFixed(2)) +
    tlv('58', 'BR') +
    tlv('59', asciiUpper(input.merchantName, 25) || 'SANDBOX') +
    tlv('60', asciiUpper(input.merchantCity, 15) || 'SAO PAULO') +
    tlv('62', tlv('05', txid)) +
    '6304';
  return payload + crc16CcittFalse(payload).toString(16).toUpperCase().padStart(4, '0');
}

export interface BrCodeField {
  id: string;
  value: string;
}

/** Splits one TLV level; used by tests and by anyone inspecting a code. */
export function parseTlv(payload: string): BrCodeField[] {
  const fields: BrCodeField[] = [];
  let pos = 0;
  while (pos < payload.length) {
    const id = payload.slice(pos, pos + 2);
    const length = Number(payload.slice(pos + 2, pos + 4));
    if (id.length < 2 || !Number.isInteger(length)) throw new Error(`malformed TLV at ${pos}`);
    const value = payload.slice(pos + 4, pos + 4 + length);
    if (value.length !== length) throw new Error(`truncated TLV field ${id}`);
    fields.push({ id, value });
    pos += 4 + length;
  }
  return fields;
}

export function isValidPixBrCode(code: string): boolean {
  if (!code.startsWith('000201') || code.length < 8) return false;
  const body = code.slice(0, -4);
  if (!body.endsWith('6304')) return false;
  const expected = crc16CcittFalse(body).toString(16).toUpperCase().padStart(4, '0');
  if (code.slice(-4) !== expected) return false;
  try {
    parseTlv(code);
    return true;
  } catch {
    return false;
  }
}

const CRC32_TABLE: readonly number[] = (() => {
  const table: number[] = [];
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table.push(c >>> 0);
  }
  return table;
})();

function crc32(buffer: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buffer) crc = CRC32_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const typeAndData = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}

/**
 * A small grayscale PNG that looks like a QR code (finder squares plus modules derived from the
 * payload). It is not a scannable QR: the copy-and-paste code is what the platform relies on.
 */
export function placeholderQrPngBase64(payload: string): string {
  const modules = 25;
  const scale = 4;
  const border = 4;
  const size = (modules + border * 2) * scale;
  const digest = createHash('sha256').update(payload).digest();
  const isDark = (x: number, y: number): boolean => {
    const finder = (fx: number, fy: number): boolean | undefined => {
      const dx = x - fx;
      const dy = y - fy;
      if (dx < 0 || dy < 0 || dx > 6 || dy > 6) return undefined;
      const ring = Math.max(Math.abs(dx - 3), Math.abs(dy - 3));
      return ring !== 2;
    };
    const f = finder(0, 0) ?? finder(modules - 7, 0) ?? finder(0, modules - 7);
    if (f !== undefined) return f;
    const index = y * modules + x;
    return ((digest[index % digest.length] >> (index % 8)) & 1) === 1;
  };
  const rows: Buffer[] = [];
  for (let py = 0; py < size; py += 1) {
    const row = Buffer.alloc(size + 1, 255);
    row[0] = 0;
    const my = Math.floor(py / scale) - border;
    for (let px = 0; px < size; px += 1) {
      const mx = Math.floor(px / scale) - border;
      if (mx >= 0 && my >= 0 && mx < modules && my < modules && isDark(mx, my)) row[px + 1] = 0;
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grayscale
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(Buffer.concat(rows))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
  return png.toString('base64');
}
