import { describe, expect, it } from 'vitest';
import { renewAt, retryDelay } from './schedule.js';

const DAY = 86_400_000;

describe('renewAt', () => {
  it.each([
    [0, 60 * DAY],
    [1, 57 * DAY],
    [0.5, 58.5 * DAY],
  ])('with random() = %f, a 90-day certificate renews %d ms after issue', (random, expected) => {
    expect(renewAt(0, 90 * DAY, () => random)).toBeCloseTo(expected, -3);
  });

  it('scales to a test CA\'s one-minute certificates', () => {
    expect(renewAt(1000, 61_000, () => 0)).toBe(41_000);
  });
});

describe('retryDelay', () => {
  it.each([
    [1, 90 * DAY, 60_000],
    [4, 90 * DAY, 480_000],
    [20, 90 * DAY, 6 * 3_600_000],
    [1, 60_000, 1000],
    [3, 60_000, 4000],
    [10, 60_000, 6000],
  ])('after %d failures, a %d ms certificate waits %d ms', (failures, lifetime, expected) => {
    expect(retryDelay(failures, lifetime)).toBe(expected);
  });
});
