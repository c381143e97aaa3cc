import { describe, expect, it } from 'vitest';
import { CostModel, MAX_COST_KEY_LENGTH } from './cost-model.js';

describe('CostModel', () => {
  it('predicts 0 before any answer, then a key its own median and an unknown key the average', () => {
    const costs = new CostModel();
    expect(costs.predict('GET /a')).toBe(0);
    costs.observe('GET /cheap', 10);
    costs.observe('GET /dear', 1000);
    expect(costs.predict('GET /cheap')).toBe(10);
    expect(costs.predict('GET /dear')).toBe(1000);
    const unknown = costs.predict('GET /never-seen?x=1');
    expect(unknown).toBeGreaterThan(10); // a fresh query string does not jump ahead of known cheap calls
    expect(unknown).toBeLessThan(1000);
    expect(costs.predict(undefined)).toBe(unknown);
  });

  it('takes the median of the last five answers, so one answer that waited behind a dear call does not move it', () => {
    const costs = new CostModel();
    for (const ms of [10, 12, 11]) costs.observe('k', ms);
    expect(costs.predict('k')).toBe(11);
    costs.observe('k', 1500); // stuck behind a dear call once
    expect(costs.predict('k')).toBe(11.5);
    costs.observe('k', 13);
    expect(costs.predict('k')).toBe(12);
    for (const ms of [200, 210, 205]) costs.observe('k', ms); // the target became dear: five answers later it shows
    expect(costs.predict('k')).toBe(205);
  });

  it('ignores answers that are not durations, and does not learn over-long keys', () => {
    const costs = new CostModel();
    costs.observe('k', Number.NaN);
    costs.observe('k', -1);
    costs.observe('k', Number.POSITIVE_INFINITY);
    expect(costs.size).toBe(0);
    expect(costs.predict('k')).toBe(0);
    costs.observe('x'.repeat(MAX_COST_KEY_LENGTH + 1), 50);
    expect(costs.size).toBe(0);
    expect(costs.predict('x'.repeat(MAX_COST_KEY_LENGTH + 1))).toBe(50); // the average
  });

  it('keeps at most maxKeys targets, forgetting the least recently used', () => {
    const costs = new CostModel(3);
    for (const key of ['a', 'b', 'c']) costs.observe(key, 1);
    costs.predict('a'); // used: kept
    costs.observe('d', 100);
    expect(costs.size).toBe(3);
    expect(costs.predict('a')).toBe(1);
    expect(costs.predict('b')).not.toBe(1); // forgotten: predicted with the average
  });
});

describe('CostModel: dear targets', () => {
  it('calls a target dear when its own answers put it above DEAR_FACTOR usual calls, and never an unknown one', () => {
    const costs = new CostModel();
    costs.observe('dear', 1000);
    expect(costs.isDear('dear')).toBe(false); // too few answers to know what is usual
    for (let i = 0; i < 27; i++) costs.observe('cheap', 10 + (i % 3));
    for (let i = 0; i < 3; i++) costs.observe('dear', 1000);
    costs.observe('middling', 30); // 3 × the usual call: ordinary spread
    expect(costs.isDear('dear')).toBe(true);
    expect(costs.isDear('cheap')).toBe(false);
    expect(costs.isDear('middling')).toBe(false);
    expect(costs.isDear('never-seen')).toBe(false);
    expect(costs.isDear(undefined)).toBe(false);
  });
});
