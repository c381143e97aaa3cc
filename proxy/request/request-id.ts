/**
 * Request ids: random UUIDs (version 4, 122 random bits from the system's
 * CSPRNG), as `randomUUID()` makes them, for less CPU. randomUUID builds each
 * id from 20 string pieces, which the header checks and the socket write then
 * flatten; here the random bytes of 256 ids are turned into one string at
 * once, and each id is a substring of it (V8 makes that in JavaScript, where a
 * Buffer's toString calls into C++ for every id). A server answering from memory
 * spent 1.05 × as much CPU per request with randomUUID as with these,
 * Portico's cache hits 1.00–1.03 × (paired rounds, docs/decisions.md, issue
 * 20). Random, not a counter: sequential ids would tell every client how much
 * traffic the proxy carries.
 */
import { randomFillSync } from 'node:crypto';

const BATCH = 256;
const UUID_LENGTH = 36;
const HEX = Buffer.from('0123456789abcdef');
const DASH = 0x2d;

const random = Buffer.allocUnsafe(16 * BATCH);
const bytes = Buffer.allocUnsafe(UUID_LENGTH * BATCH);
let text = '';
let next = BATCH;

/** @example newRequestId() // "3c259a82-4f81-43ee-b3c4-7309b81ec231" */
export function newRequestId(): string {
  if (next === BATCH) refill();
  const start = next++ * UUID_LENGTH;
  // V8 may keep the batch's string (9 KiB) alive while an id of it lives: ids live as long as their request.
  return text.substring(start, start + UUID_LENGTH);
}

/** The text of BATCH fresh ids: 8-4-4-4-12 hex digits, version 4, variant 10 (RFC 9562 §5.4). */
function refill(): void {
  randomFillSync(random);
  let out = 0;
  for (let id = 0; id < BATCH; id++) {
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) bytes[out++] = DASH;
      let byte = random[id * 16 + i]!;
      if (i === 6) byte = (byte & 0x0f) | 0x40;
      else if (i === 8) byte = (byte & 0x3f) | 0x80;
      bytes[out++] = HEX[byte >> 4]!;
      bytes[out++] = HEX[byte & 0x0f]!;
    }
  }
  text = bytes.toString('latin1');
  next = 0;
}
