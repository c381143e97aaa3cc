import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { UpstreamResponse } from './upstream-response.js';

/** undici's controller, as the response uses it. */
function fakeController() {
  return { paused: false, aborted: false, pause() { this.paused = true; }, resume() { this.paused = false; }, abort() { this.aborted = true; } };
}

/**
 * A client response whose buffer is full every other write. Like a response of a
 * compressed route (the `compression` package), it hands 'drain' listeners to an
 * inner stream: a once() wrapper then never gets removed from where it was put.
 */
function slowSink() {
  const inner = new EventEmitter();
  const sink = Object.assign(new EventEmitter(), { inner, written: [] as Buffer[], destroyed: false, ended: false,
    write(chunk: Buffer) { this.written.push(chunk); return this.written.length % 2 === 1; },
    end() { this.ended = true; }, destroy() { this.destroyed = true; } });
  sink.on = (event: string, listener: (...args: unknown[]) => void) => {
    if (event === 'drain') inner.on(event, listener);
    else EventEmitter.prototype.on.call(sink, event, listener);
    return sink;
  };
  return sink;
}

const make = (controller = fakeController()) => new UpstreamResponse(controller as never, 200, {}, 0, 0, 1);

describe('UpstreamResponse', () => {
  it('pauses the upstream while the client is full and resumes on drain, with one drain listener however often', () => {
    const controller = fakeController();
    const response = make(controller);
    const sink = slowSink();
    response.pipeTo(sink as unknown as ServerResponse);
    for (let i = 0; i < 50; i++) {
      response.push(Buffer.from(`chunk ${i}`));
      if (controller.paused) sink.inner.emit('drain');
      expect(controller.paused).toBe(false);
    }
    expect(sink.inner.listenerCount('drain')).toBe(1);
    response.end();
    expect(sink.written).toHaveLength(50);
    expect(sink.ended).toBe(true);
  });

  it('holds what arrives before the client is attached, and hands it over in order', () => {
    const response = make();
    response.push(Buffer.from('a'));
    response.push(Buffer.from('b'));
    response.end();
    const sink = slowSink();
    response.pipeTo(sink as unknown as ServerResponse);
    expect(Buffer.concat(sink.written).toString()).toBe('ab');
    expect(sink.ended).toBe(true);
  });

  it('fails a body that only a drain reads without an unhandled error', async () => {
    const response = make();
    response.body.resume(); // as the cache drains a body it does not store
    response.fail(new Error('the origin hung up'));
    await new Promise((r) => setImmediate(r));
    expect(response.body.destroyed).toBe(true);
  });

  it('runs every done callback once, even after one throws', () => {
    const response = make();
    const calls: string[] = [];
    response.whenDone(() => { calls.push('first'); throw new Error('a bug elsewhere'); });
    response.whenDone(() => calls.push('second'));
    expect(() => response.end()).toThrow('a bug elsewhere');
    response.fail(new Error('after the end'));
    expect(calls).toEqual(['first', 'second']);
    response.whenDone(() => calls.push('late'));
    expect(calls).toEqual(['first', 'second', 'late']);
  });
});
