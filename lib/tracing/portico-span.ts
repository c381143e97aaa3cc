/**
 * One span class for every span a hop makes, recorded or not (HeadSampledTracer
 * makes them). A recorded span is also the ReadableSpan the SDK's batch
 * processor and OTLP serializer read: at its end it goes to the processor
 * as it is, with nothing copied.
 *
 * Why not the SDK's Span: with 1 request in 100 recorded, the proxy's call
 * sites saw two span classes, and the SDK's span code (the sampler's plumbing,
 * attribute checks, its clock anchoring) ran too seldom to be optimised; with
 * nothing exported, sample 0.01 still cost 1.066 × sample 0 (perf, paired,
 * docs/decisions.md, issue 24). Unrecorded spans share frozen empty fields, so
 * that both kinds have one shape and an unrecorded one allocates nothing more.
 */
import {
  SpanStatusCode, type Attributes, type AttributeValue, type Exception, type HrTime, type Link, type Span, type SpanAttributes,
  type SpanContext, type SpanKind, type SpanStatus, type TimeInput,
} from '@opentelemetry/api';
import { hrTime, hrTimeDuration, isTimeInput, timeInputToHrTime, type InstrumentationScope } from '@opentelemetry/core';
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

export class PorticoSpan implements Span, ReadableSpan {
  attributes: Attributes = NO_ATTRIBUTES;
  links: Link[] = NONE as never[];
  events: TimedEvent[] = NONE as never[];
  status: SpanStatus = UNSET;
  startTime: HrTime = ZERO;
  endTime: HrTime = ZERO;
  duration: HrTime = ZERO;
  ended = false;
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;

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
    this.startTime = startTime === undefined ? hrTime() : timeInputToHrTime(startTime);
    this.attributes = {};
    if (attributes) this.setAttributes(attributes);
    this.links = links ? [...links] : [];
    this.events = [];
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return this.origin !== undefined && !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    // The SDK's rule: a value that is not an attribute value (null, undefined) is left out.
    if (this.isRecording() && value !== undefined && value !== null) (this.attributes as Record<string, AttributeValue>)[key] = value;
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: SpanAttributes | TimeInput, time?: TimeInput): this {
    if (!this.isRecording()) return this;
    const attributes = isTimeInput(attributesOrTime) ? undefined : attributesOrTime;
    const at = isTimeInput(attributesOrTime) ? attributesOrTime : time;
    this.events.push({ name, attributes: attributes ?? {}, time: at === undefined ? hrTime() : timeInputToHrTime(at), droppedAttributesCount: 0 });
    return this;
  }

  addLink(link: Link): this {
    if (this.isRecording()) this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // As the SDK: UNSET changes nothing, and OK is final.
    if (this.isRecording() && status.code !== SpanStatusCode.UNSET && this.status.code !== SpanStatusCode.OK) this.status = { ...status };
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
    this.endTime = endTime === undefined ? hrTime() : timeInputToHrTime(endTime);
    this.duration = hrTimeDuration(this.startTime, this.endTime);
    this.origin.sink.onEnd(this);
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: SpanAttributes = typeof exception === 'string'
      ? { 'exception.message': exception }
      : { 'exception.type': exception.name ?? String(exception.code ?? ''), 'exception.message': exception.message ?? '', 'exception.stacktrace': exception.stack ?? '' };
    this.addEvent('exception', attributes, time);
  }
}
