/**
 * A small `qs`-compatible reader for `application/x-www-form-urlencoded` bodies with bracket
 * nesting, the way the `stripe` SDK encodes them: `line_items[0][price_data][unit_amount]=1000`,
 * `metadata[topupId]=abc`, `expand[]=payment_intent`.
 */

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 20;

/** `a[b][0][]` → `['a', 'b', '0', '']`; text after an unclosed bracket stays part of the key. */
export function splitFormKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  let rest = key.slice(open);
  while (rest.startsWith('[') && segments.length <= MAX_DEPTH) {
    const close = rest.indexOf(']');
    if (close < 0) break;
    segments.push(rest.slice(1, close));
    rest = rest.slice(close + 1);
  }
  if (rest.length > 0) segments[segments.length - 1] += rest;
  return segments;
}

export function parseFormBody(raw: string): FormObject {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const segments = splitFormKey(key);
    if (segments.some((segment) => FORBIDDEN_KEYS.has(segment))) continue;
    assign(root, segments, value);
  }
  // The top level stays an object even when every key is numeric (`0=a&1=b`).
  const out: FormObject = {};
  for (const [key, value] of Object.entries(root)) out[key] = compactArrays(value);
  return out;
}

function assign(target: FormObject, segments: string[], value: string): void {
  let node = target;
  for (let i = 0; i < segments.length; i += 1) {
    const isLast = i === segments.length - 1;
    // `key[]` appends: the next free index of an object that will become an array.
    const segment = segments[i] === '' ? String(Object.keys(node).length) : segments[i];
    if (isLast) {
      const existing = node[segment];
      if (existing === undefined) node[segment] = value;
      else if (typeof existing === 'string') node[segment] = [existing, value];
      else if (Array.isArray(existing)) existing.push(value);
      else existing[String(Object.keys(existing).length)] = value;
      return;
    }
    const existing = node[segment];
    if (existing !== undefined && typeof existing === 'object' && !Array.isArray(existing)) {
      node = existing;
    } else {
      // A scalar followed by a nested key for the same name: qs keeps the nested form.
      const child: FormObject = {};
      node[segment] = child;
      node = child;
    }
  }
}

/** Objects whose keys are all array indexes become arrays, ordered by index (as qs does). */
function compactArrays(value: FormValue): FormValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(compactArrays);
  const keys = Object.keys(value);
  const entries = keys.map((key): [string, FormValue] => [key, compactArrays(value[key])]);
  if (keys.length > 0 && keys.every((key) => /^(0|[1-9]\d{0,3})$/.test(key))) {
    return entries.sort((a, b) => Number(a[0]) - Number(b[0])).map(([, v]) => v);
  }
  const out: FormObject = {};
  for (const [key, v] of entries) out[key] = v;
  return out;
}
