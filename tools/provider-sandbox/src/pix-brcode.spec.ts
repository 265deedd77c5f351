import { inflateSync } from 'node:zlib';
import {
  buildPixBrCode,
  crc16CcittFalse,
  isValidPixBrCode,
  parseTlv,
  placeholderQrPngBase64,
} from './pix-brcode';

describe('crc16CcittFalse', () => {
  it('matches the CRC-16/CCITT-FALSE check value for "123456789"', () => {
    expect(crc16CcittFalse('123456789')).toBe(0x29b1);
  });

  it("matches the example BR Code published in Banco Central's PIX manual (CRC 1D3D)", () => {
    const published =
      '00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D';
    const payload = published.slice(0, -4);
    expect(crc16CcittFalse(payload).toString(16).toUpperCase()).toBe('1D3D');
    expect(isValidPixBrCode(published)).toBe(true);
  });
});

describe('buildPixBrCode', () => {
  const code = buildPixBrCode({
    pixKey: '7d9f0335-8dcc-4054-9bf9-0dbd61d36906',
    amount: 1234.5,
    merchantName: 'Imobiliária São João de Todos os Santos Ltda',
    merchantCity: 'São José dos Campos',
    txid: 'mpqrinter1300000001',
  });

  it('produces a code whose CRC verifies', () => {
    expect(isValidPixBrCode(code)).toBe(true);
    expect(code).toMatch(/6304[0-9A-F]{4}$/);
  });

  it('lays out the mandatory fields in order with the limits of the manual', () => {
    const fields = parseTlv(code);
    expect(fields.map((field) => field.id)).toEqual([
      '00',
      '26',
      '52',
      '53',
      '54',
      '58',
      '59',
      '60',
      '62',
      '63',
    ]);
    const byId = Object.fromEntries(fields.map((field) => [field.id, field.value]));
    expect(byId['00']).toBe('01');
    expect(byId['52']).toBe('0000');
    expect(byId['53']).toBe('986');
    expect(byId['54']).toBe('1234.50');
    expect(byId['58']).toBe('BR');
    expect(byId['59'].length).toBeLessThanOrEqual(25);
    expect(byId['59']).toMatch(/^[A-Z0-9 .-]+$/);
    expect(byId['60'].length).toBeLessThanOrEqual(15);
    const account = Object.fromEntries(parseTlv(byId['26']).map((field) => [field.id, field.value]));
    expect(account['00']).toBe('br.gov.bcb.pix');
    expect(account['01']).toBe('7d9f0335-8dcc-4054-9bf9-0dbd61d36906');
    const additional = Object.fromEntries(parseTlv(byId['62']).map((field) => [field.id, field.value]));
    expect(additional['05']).toBe('mpqrinter1300000001');
  });

  it('refuses a code with a wrong CRC', () => {
    const broken = `${code.slice(0, -4)}${code.slice(-4) === '0000' ? '0001' : '0000'}`;
    expect(isValidPixBrCode(broken)).toBe(false);
  });
});

describe('placeholderQrPngBase64', () => {
  it('is a decodable PNG', () => {
    const png = Buffer.from(placeholderQrPngBase64('anything'), 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    const idatLength = png.readUInt32BE(33);
    expect(png.subarray(37, 41).toString('ascii')).toBe('IDAT');
    const pixels = inflateSync(png.subarray(41, 41 + idatLength));
    expect(pixels.length).toBe(height * (width + 1));
  });
});
