import { describe, expect, it } from 'vitest';
import { durationBetween, formatDuration, formatEur } from '../../src/lib/format';

describe('formatting', () => {
	it('formats EUR decimals, small ones with enough digits', () => {
		expect(formatEur('0')).toBe('€0.00');
		expect(formatEur('12.5')).toBe('€12.50');
		expect(formatEur('0.000123')).toBe('€0.000123');
		expect(formatEur('nope')).toBe('—');
	});

	it('formats durations', () => {
		expect(formatDuration(450)).toBe('450 ms');
		expect(formatDuration(2500)).toBe('2.5 s');
		expect(formatDuration(125_000)).toBe('2 min 5 s');
		expect(formatDuration(null)).toBe('—');
		expect(durationBetween('2026-01-01T00:00:00Z', '2026-01-01T00:00:02Z')).toBe(2000);
		expect(durationBetween(null, null)).toBeNull();
	});
});
