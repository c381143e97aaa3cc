/**
 * The give-back between the proxy and a Portico backend (issue 22), as two
 * headers both sides must spell the same way.
 */

/**
 * Request: `1`, the proxy will send a request handed back unstarted to a free server;
 * `share`, the proxy has no free server for it: start it beside calls far dearer than usual
 * rather than wait for them (the backend's WhenOverdue).
 */
export const GIVE_BACK_OFFER = 'portico-give-back';
export const OFFER_VALUE = '1';
export const SHARE_VALUE = 'share';
/** Response (a 503): the request never started, so sending it elsewhere is safe for any method; its value is the ms it waited. */
export const NOT_STARTED = 'portico-not-started';
