// The small pure pieces, in Node (no browser): the proof of work and the Intl formatting.
import { expect, test } from '@playwright/test';
import { createHash } from 'node:crypto';
import { money, toMinor } from '../src/shared/format';
import { leadingZeroBits, solve } from '../src/widget/pow';

test('leading zero bits of a digest', () => {
  expect(leadingZeroBits(new Uint8Array([0x00, 0x00, 0x80]))).toBe(16);
  expect(leadingZeroBits(new Uint8Array([0x00, 0x0f]))).toBe(12);
  expect(leadingZeroBits(new Uint8Array([0xff]))).toBe(0);
  expect(leadingZeroBits(new Uint8Array([0x00, 0x00]))).toBe(16);
});

test('a solved challenge has the zero bits asked for, as the API checks it', async () => {
  const salt = 'c2FsdA-test';
  const nonce = await solve(salt, 12);
  expect(nonce).toMatch(/^\d+$/);
  const digest = createHash('sha256').update(salt + nonce, 'utf8').digest();
  expect(leadingZeroBits(new Uint8Array(digest))).toBeGreaterThanOrEqual(12);
});

test('money through Intl, INR first, minor units by the currency', () => {
  expect(money(249900, 'INR')).toBe('₹2,499.00');
  expect(money(12345678, 'INR')).toBe('₹1,23,456.78');
  expect(money(1500, 'JPY')).toBe('JP¥1,500');
  expect(toMinor('2499.50', 'INR')).toBe(249950);
  expect(toMinor('1500', 'JPY')).toBe(1500);
});
