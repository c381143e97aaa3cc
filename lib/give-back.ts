/**
 * The give-back between the proxy and a Portico backend (issue 22), as two
 * headers both sides must spell the same way.
 */

/** Request: the proxy will send a request handed back unstarted to a free server. */
export const GIVE_BACK_OFFER = 'portico-give-back';
/** Response (a 503): the request never started, so sending it elsewhere is safe for any method; its value is the ms it waited. */
export const NOT_STARTED = 'portico-not-started';
