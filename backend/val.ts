/** Validation of the inference API's `val`, shared by GET ?val=N and POST {"val": N}. */
import { FOO_MAX_VAL, FOO_MIN_VAL } from './core.js';

export type ValResult = { ok: true; val: number } | { ok: false; detail: string };

const RANGE = `an integer from ${FOO_MIN_VAL} to ${FOO_MAX_VAL}`;

/**
 * Checks a query-string value: digits only, no sign tricks, no exponent.
 * @example parseValParam('1000') // { ok: true, val: 1000 }
 */
export function parseValParam(values: string[] | undefined): ValResult {
  if (!values || values.length === 0) return { ok: false, detail: `query parameter "val" is missing: give ${RANGE}, e.g. ?val=1000` };
  if (values.length > 1) return { ok: false, detail: 'query parameter "val" is given more than once: give it once' };
  const text = values[0]!.trim();
  if (!/^-?\d{1,15}$/.test(text)) return { ok: false, detail: `val "${clip(text)}" is not ${RANGE}` };
  return checkRange(Number(text));
}

/** Checks a JSON body: an object whose `val` is an integer number. */
export function parseValBody(body: unknown): ValResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, detail: `the body must be a JSON object like {"val": 1000}` };
  }
  if (!('val' in body)) return { ok: false, detail: `the body has no "val": give ${RANGE}, e.g. {"val": 1000}` };
  const val = (body as { val: unknown }).val;
  if (typeof val !== 'number' || !Number.isInteger(val)) {
    return { ok: false, detail: `"val" must be ${RANGE} (a JSON number, not ${JSON.stringify(val)?.slice(0, 40) ?? typeof val})` };
  }
  return checkRange(val);
}

function checkRange(val: number): ValResult {
  if (val < FOO_MIN_VAL || val > FOO_MAX_VAL) return { ok: false, detail: `val ${val} is out of range: give ${RANGE}` };
  return { ok: true, val };
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
