/** The methods of RFC 9110 and PATCH: others are recorded as one value (metric label, span), so clients cannot grow the set. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'POST', 'PATCH', 'CONNECT']);
