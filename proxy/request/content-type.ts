/**
 * A static file's Content-Type from its extension, by mime-db (through
 * mime-types, what Express and `serve-static` use): nginx's mime.types and
 * more, kept up to date by its maintainers. Text types carry `charset=utf-8`.
 */
import { contentType } from 'mime-types';

const FALLBACK = 'application/octet-stream';
/** Looked up once per extension: a file name's extension set is small, and the lookup builds strings. */
const known = new Map<string, string>();

/** @example contentTypeOf('.pdf') // 'application/pdf'; contentTypeOf('') // 'application/octet-stream' */
export function contentTypeOf(extension: string): string {
  let type = known.get(extension);
  if (type === undefined) {
    type = (extension && contentType(extension)) || FALLBACK;
    if (known.size < 1000) known.set(extension, type);
  }
  return type;
}
