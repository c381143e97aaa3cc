import { describe, expect, it } from 'vitest';
import { substituteEnv } from './env.js';

describe('substituteEnv', () => {
  it.each([
    ['port: ${PORT}', { PORT: '9000' }, 'port: 9000'],
    ['port: ${PORT:-8080}', {}, 'port: 8080'],
    ['port: ${PORT:-8080}', { PORT: '' }, 'port: 8080'],
    ['token: "${A}-${B:-x}"', { A: 'a' }, 'token: "a-x"'],
    ['literal: $${HOME}', { HOME: '/root' }, 'literal: ${HOME}'],
    ['no vars: $HOME {x}', {}, 'no vars: $HOME {x}'],
  ])('%s', (text, env, expected) => {
    expect(substituteEnv(text, env)).toEqual({ text: expected, missing: [] });
  });

  it('reports unset variables without a default, with their offset', () => {
    expect(substituteEnv('a: 1\nb: ${NOPE}', {}).missing).toEqual([{ name: 'NOPE', offset: 8 }]);
  });
});
