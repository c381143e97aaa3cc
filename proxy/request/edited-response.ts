/**
 * The response classes of the client listeners: node's own, plus the route's
 * response header edits (set, add, remove) applied in writeHead, so that every
 * response of the route carries them (proxied, cached, static, or the proxy's
 * own problem answers, implicit headers included) whichever code writes it.
 * A route without edits leaves `edits` unset and pays one property read.
 * Installed through the servers' `ServerResponse` options, not patched per request.
 */
import { type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import type { RouteConfig } from '../../lib/config/load.js';

export type HeaderEdits = RouteConfig['response_headers'];

/** A response that a route's chain can give header edits. */
export interface EditableResponse {
  edits?: HeaderEdits;
}

type HeadersArg = OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined;
type Target = { removeHeader(name: string): void; setHeader(name: string, value: OutgoingHttpHeader): unknown; appendHeader?(name: string, value: string | readonly string[]): unknown; getHeader(name: string): unknown };

/**
 * Folds the headers given to writeHead into the response's own (so the edits see
 * them all), applies `edits`, and returns the arguments writeHead goes on with.
 */
function applyEdits(res: Target, edits: HeaderEdits, statusMessageOrHeaders: string | HeadersArg, maybeHeaders: HeadersArg): string | undefined {
  const message = typeof statusMessageOrHeaders === 'string' ? statusMessageOrHeaders : undefined;
  const headers = typeof statusMessageOrHeaders === 'string' ? maybeHeaders : statusMessageOrHeaders;
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) res.removeHeader(String(headers[i]));
    for (let i = 0; i < headers.length; i += 2) append(res, String(headers[i]), String(headers[i + 1]));
  } else if (headers) {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) res.setHeader(name, value);
  }
  for (const name of edits.remove) res.removeHeader(name);
  for (const [name, value] of Object.entries(edits.set)) res.setHeader(name, value);
  for (const [name, value] of Object.entries(edits.add)) append(res, name, value);
  return message;
}

function append(res: Target, name: string, value: string): void {
  if (res.appendHeader) return void res.appendHeader(name, value);
  // HTTP/2's compatibility response has no appendHeader.
  const old = res.getHeader(name);
  res.setHeader(name, old === undefined ? value : [...(Array.isArray(old) ? old.map(String) : [String(old)]), value]);
}

/** HTTP/1.1 responses (plain and TLS listeners). */
export class EditedResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> implements EditableResponse {
  edits?: HeaderEdits;

  override writeHead(statusCode: number, statusMessage?: string, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, a?: string | HeadersArg, b?: HeadersArg): this {
    if (!this.edits) return typeof a === 'string' ? super.writeHead(statusCode, a, b) : super.writeHead(statusCode, a);
    const message = applyEdits(this, this.edits, a, b);
    return message === undefined ? super.writeHead(statusCode) : super.writeHead(statusCode, message);
  }
}

/** HTTP/2 responses of the TLS listener (the compatibility API the handler is written for). */
export class EditedHttp2Response extends Http2ServerResponse implements EditableResponse {
  edits?: HeaderEdits;

  override writeHead(statusCode: number, headers?: OutgoingHttpHeaders): this;
  override writeHead(statusCode: number, statusMessage: string, headers?: OutgoingHttpHeaders): this;
  override writeHead(statusCode: number, a?: string | OutgoingHttpHeaders, b?: OutgoingHttpHeaders): this {
    if (!this.edits) return typeof a === 'string' ? super.writeHead(statusCode, a, b) : super.writeHead(statusCode, a);
    applyEdits(this as unknown as Target, this.edits, a, b);
    return super.writeHead(statusCode);
  }
}
