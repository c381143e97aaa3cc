/**
 * One span class for every span a hop makes, recorded or not (HeadSampledTracer
 * makes them). A recorded span is also the ReadableSpan the SDK's batch
 * processor and OTLP serializer read: at its end it goes to the processor
 * as it is, with nothing copied.
 *
 * Why not the SDK's Span: with 1 request in 100 recorded, the proxy's call
 * sites saw two span classes, and the SDK's span code (the tracer's and
 * sampler's plumbing around each span) ran too seldom to be optimised; with
 * nothing exported, sample 0.01 still cost 1.066 × sample 0 (perf, paired,
 * docs/decisions.md, issue 24). Unrecorded spans share frozen empty fields, so
 * that both kinds have one shape and an unrecorded one allocates nothing more.
 */
import {
  SpanStatusCode, type Attributes, type AttributeValue, type Exception, type HrTime, type Link, type Span, type SpanAttributes,
  type SpanContext, type SpanKind, type SpanStatus, type TimeInput,
} from '@opentelemetry/api';
import { addHrTimes, hrTime, hrTimeDuration, isAttributeValue, isTimeInput, isTimeInputHrTime, millisToHrTime, sanitizeAttributes, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';

/** Where a recorded span goes when it ends: the SDK's span processor. */
export interface SpanSink {
  onEnd(span: ReadableSpan): void;
}

/** What a recorded span names as its origin (the same for every span of a hop). */
export interface SpanOrigin {
  sink: SpanSink;
  resource: Resource;
  scope: InstrumentationScope;
}

const NONE: readonly never[] = Object.freeze([]);
const NO_ATTRIBUTES: Attributes = Object.freeze({});
const ZERO: HrTime = Object.freeze([0, 0]) as unknown as HrTime;
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
/** The SDK's default span limits (attributes, events and links per span). */
const LIMIT = 128;

/**
 * What the SDK's span does with what it is given, kept here: values that are not attribute values
 * (null, objects, mixed arrays) and empty keys are left out, arrays are copied, 128 attributes,
 * events and links at most (the oldest event goes), an UNSET status changes nothing, OK is final,
 * a status message is kept for ERROR only, and times follow the wall clock (below).
 */
export class PorticoSpan implements Span, ReadableSpan {
  attributes: Attributes = NO_ATTRIBUTES;
  links: Link[] = NONE as never[];
  events: TimedEvent[] = NONE as never[];
  status: SpanStatus = UNSET;
  startTime: HrTime = ZERO;
  endTime: HrTime = ZERO;
  duration: HrTime = ZERO;
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  /** performance.now() at the start, and the wall clock's lead on performance's time then (the SDK's anchoring). */
  private performanceStart = 0;
  private wallClockOffset = 0;
  private startTimeGiven = false;
  private attributeCount = 0;

  /** `origin` undefined: the span is not recorded (its ids and flags go on, nothing else is kept). */
  constructor(
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    public name: string,
    readonly kind: SpanKind,
    private readonly origin: SpanOrigin | undefined,
    startTime?: TimeInput,
    attributes?: SpanAttributes,
    links?: Link[],
  ) {
    this.resource = origin?.resource as Resource;
    this.instrumentationScope = origin?.scope as InstrumentationScope;
    if (origin === undefined) return;
    // As the SDK (after open-telemetry-js #3129, #3279): every span reads the wall clock when it
    // starts, so that a clock step after the process started does not move its spans.
    const now = Date.now();
    this.performanceStart = performance.now();
    this.wallClockOffset = now - (this.performanceStart + performance.timeOrigin);
    this.startTimeGiven = startTime !== undefined;
    this.startTime = this.time(startTime ?? now);
    this.attributes = {};
    this.events = [];
    this.links = [];
    if (attributes) this.setAttributes(attributes);
    if (links) this.addLinks(links);
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return this.origin !== undefined && !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (!this.isRecording() || value == null || key.length === 0 || !isAttributeValue(value)) return this;
    const attributes = this.attributes as Record<string, AttributeValue>;
    if (!(key in attributes)) {
      if (this.attributeCount >= LIMIT) {
        this.droppedAttributesCount++;
        return this;
      }
      this.attributeCount++;
    }
    attributes[key] = Array.isArray(value) ? (value.slice() as AttributeValue) : value;
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: SpanAttributes | TimeInput, time?: TimeInput): this {
    if (!this.isRecording()) return this;
    let attributes = attributesOrTime as SpanAttributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
      attributes = undefined;
    }
    if (this.events.length >= LIMIT) {
      this.droppedEventsCount++;
      this.events.shift();
    }
    this.events.push({ name, attributes: sanitizeAttributes(attributes), time: this.time(time), droppedAttributesCount: 0 });
    return this;
  }

  addLink(link: Link): this {
    if (!this.isRecording()) return this;
    if (this.links.length >= LIMIT) {
      this.droppedLinksCount++;
      return this;
    }
    this.links.push({ ...link, attributes: sanitizeAttributes(link.attributes) });
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (!this.isRecording() || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === 'string' ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (this.isRecording()) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    if (this.origin === undefined) return;
    this.endTime = this.time(endTime);
    // A clock that went back, or an end given before the start: a zero duration, as the SDK makes it.
    if (this.endTime[0] < this.startTime[0] || (this.endTime[0] === this.startTime[0] && this.endTime[1] < this.startTime[1])) this.endTime = this.startTime;
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    this.origin.sink.onEnd(this);
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: SpanAttributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else if (exception) {
      if (exception.code) attributes['exception.type'] = String(exception.code);
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] !== undefined || attributes['exception.message'] !== undefined) this.addEvent('exception', attributes, time);
  }

  /**
   * A time as the SDK's span reads it: a number up to performance.now() is performance's time,
   * put on the wall clock read at the start; a larger one is epoch milliseconds; none is the
   * start plus the monotonic time since (or the wall clock now, when the start was given).
   */
  private time(input: TimeInput | undefined): HrTime {
    if (typeof input === 'number') return input <= performance.now() ? hrTime(input + this.wallClockOffset) : millisToHrTime(input);
    if (input instanceof Date) return millisToHrTime(input.getTime());
    if (isTimeInputHrTime(input)) return input;
    if (this.startTimeGiven) return millisToHrTime(Date.now());
    return addHrTimes(this.startTime, millisToHrTime(performance.now() - this.performanceStart));
  }
}
