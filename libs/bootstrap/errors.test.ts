import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { codeOf, messageOf, unavailable } from './errors.js';

describe('what a thrown error says', () => {
  it('a grpc-js ServiceError: its code, and its details without the code in front', () => {
    const err = Object.assign(new Error('14 UNAVAILABLE: no connection'), {
      code: status.UNAVAILABLE,
      details: 'no connection',
    });
    expect(codeOf(err)).toBe(status.UNAVAILABLE);
    expect(messageOf(err)).toBe('no connection');
  });

  it('empty details, an RpcError, anything else: the message', () => {
    expect(messageOf(Object.assign(new Error('14 UNAVAILABLE: '), { code: 14, details: '' }))).toBe('14 UNAVAILABLE: ');
    expect(messageOf(unavailable('events down'))).toBe('events down');
    expect(codeOf(unavailable('events down'))).toBe(status.UNAVAILABLE);
    expect(messageOf('plain')).toBe('plain');
    expect(codeOf('plain')).toBe(status.UNKNOWN);
  });
});
