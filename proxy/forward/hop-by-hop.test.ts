import { describe, expect, it } from 'vitest';
import { stripHopByHop } from './hop-by-hop.js';

describe('stripHopByHop', () => {
  it('removes the RFC 9110 hop-by-hop headers and keeps end-to-end ones', () => {
    expect(stripHopByHop({
      connection: 'keep-alive', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', te: 'trailers', trailer: 'x',
      upgrade: 'h2c', 'proxy-authorization': 'Basic x', 'proxy-connection': 'keep-alive', accept: 'text/html', 'set-cookie': ['a=1', 'b=2'],
    })).toEqual({ accept: 'text/html', 'set-cookie': ['a=1', 'b=2'] });
  });

  it('removes the headers the Connection header names', () => {
    expect(stripHopByHop({ connection: 'close, X-Secret ,x-other', 'x-secret': '1', 'x-other': '2', 'x-kept': '3' })).toEqual({ 'x-kept': '3' });
  });
});
