/**
 * How a customer's message is compared with an option's keyword. Validation and the engine
 * share this so that "two options with the same keyword" means exactly "the engine could not
 * tell them apart".
 *
 * Besides trimming and ignoring case, accents are ignored (NFKD, then combining marks dropped)
 * because customers on phones often type "nao" for "não" or "Sí" for "si"; NFKD also folds
 * full-width digits and letters. Inner runs of whitespace count as one space.
 */
export function normalizeKeyword(text: string): string {
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/gu, ' ').trim();
}

/** 1️⃣ … 9️⃣ (digit, optional VS16, combining keycap) as sent by WhatsApp's emoji keyboard. */
const KEYCAP = /^([0-9])\uFE0F?\u20E3$/u;
const DIGITS = /^[0-9]{1,3}$/;

/**
 * The option number a message stands for (`"2"`, `" 02 "`, `"2️⃣"`), or null. Only plain
 * digits count: "2." or "#2" are not numbers here, to keep what counts as a choice obvious.
 */
export function parseOptionNumber(text: string): number | null {
  const trimmed = text.trim();
  const keycap = KEYCAP.exec(trimmed);
  if (keycap) return Number(keycap[1]);
  // NFKD turns full-width digits into ASCII ones before the check.
  const ascii = trimmed.normalize('NFKD');
  return DIGITS.test(ascii) ? Number(ascii) : null;
}
