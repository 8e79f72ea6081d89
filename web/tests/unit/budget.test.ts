import { describe, expect, it } from 'vitest';
import { HEADROOM, formatRatio, gauge, parseAmount, ticks, zoneText } from '../../src/lib/budget';

describe('budget gauge', () => {
	it('places the downgrade and throttle lines on a scale with headroom past the cap', () => {
		const g = gauge({ spent: 4, limit: 10, downgradeAt: 0.8 });
		expect(g.zone).toBe('ok');
		expect(g.scale).toBeCloseTo(10 * HEADROOM);
		expect(g.fill).toBeCloseTo(36.4, 1);
		expect(g.downgradeLine).toBeCloseTo(72.7, 1);
		expect(g.throttleLine).toBeCloseTo(90.9, 1);
		expect(g.overageLine).toBeNull();
		expect(g.ratio).toBeCloseTo(0.4);
	});

	it('moves through the zones the quota store enforces', () => {
		const zone = (spent: number, overage = 0) => gauge({ spent, limit: 10, downgradeAt: 0.8, overage }).zone;
		expect(zone(7.99)).toBe('ok');
		expect(zone(8)).toBe('downgrade'); // from 80 % of the cap, inclusive
		expect(zone(9.99)).toBe('downgrade');
		expect(zone(10)).toBe('throttle'); // at the cap nothing more fits
		expect(zone(10, 5)).toBe('overage'); // unless consented to
		expect(zone(14.99, 5)).toBe('overage');
		expect(zone(15, 5)).toBe('throttle');
	});

	it('draws consented overage as a third line and stretches the scale to it', () => {
		const g = gauge({ spent: 12, limit: 10, downgradeAt: 0.8, overage: 10 });
		expect(g.scale).toBeCloseTo(22);
		expect(g.throttleLine).toBeCloseTo(45.5, 1);
		expect(g.overageLine).toBeCloseTo(90.9, 1);
		expect(g.fill).toBeCloseTo(54.5, 1);
	});

	it('fills the bar when spending ran past every line, and never past 100 %', () => {
		const g = gauge({ spent: 30, limit: 10, downgradeAt: 0.8 });
		expect(g.zone).toBe('throttle');
		expect(g.fill).toBe(100);
		expect(g.throttleLine).toBeCloseTo(33.3, 1);
		expect(formatRatio(g.ratio)).toBe('300 %');
	});

	it('has no downgrade line for a plain monthly limit', () => {
		const g = gauge({ spent: 9, limit: 10 });
		expect(g.downgradeLine).toBeNull();
		expect(g.zone).toBe('ok');
	});

	it('handles a zero cap and no limit at all', () => {
		const zero = gauge({ spent: 0, limit: 0, downgradeAt: 0.8 });
		expect(zero.zone).toBe('throttle'); // a zero cap refuses every call
		expect(zero.fill).toBe(0);
		expect(Number.isFinite(zero.scale) && zero.scale > 0).toBe(true);
		expect(formatRatio(gauge({ spent: 1, limit: 0 }).ratio)).toBe('over 100 %');
		const none = gauge({ spent: 5, limit: null });
		expect(none.zone).toBe('unlimited');
		expect(none.throttleLine).toBeNull();
		expect(formatRatio(none.ratio)).toBe('—');
		expect(gauge({ spent: Number.NaN, limit: 10 }).fill).toBe(0);
	});

	it('describes each zone in words, not only colour', () => {
		expect(zoneText('downgrade')).toMatch(/cheaper model/);
		expect(zoneText('throttle')).toMatch(/refused/);
	});
});

describe('gauge ticks', () => {
	it('labels each line, keeping the ones near the edge inside the bar', () => {
		const g = gauge({ spent: 1, limit: 10, downgradeAt: 0.8 });
		expect(ticks(g, 0.8)).toEqual([
			{ at: g.downgradeLine, label: '80%', end: false },
			{ at: g.throttleLine, label: '100%', end: true }
		]);
	});

	it('drops a label that would overlap the one before it', () => {
		const g = gauge({ spent: 1, limit: 10, downgradeAt: 0.8, overage: 40 }); // 80 % and 100 % end up 3.6 apart
		expect(ticks(g, 0.8).map((t) => t.label)).toEqual(['80%', '+consent']);
		expect(ticks(g, 0.8, 3).map((t) => t.label)).toEqual(['80%', '100%', '+consent']);
	});
});

describe('consent amount', () => {
	it('accepts what people type and normalises to two decimals', () => {
		expect(parseAmount('25')).toEqual({ amount: '25.00' });
		expect(parseAmount(' 25,5 ')).toEqual({ amount: '25.50' });
		expect(parseAmount('€ 7.25')).toEqual({ amount: '7.25' });
		expect(parseAmount('12 EUR')).toEqual({ amount: '12.00' });
		expect(parseAmount('0')).toEqual({ amount: '0.00' });
		expect(parseAmount('000123.4')).toEqual({ amount: '123.40' });
		expect(parseAmount('999999.99')).toEqual({ amount: '999999.99' });
	});

	it('refuses what the API would refuse, saying why', () => {
		expect(parseAmount('')).toEqual({ error: expect.stringMatching(/Enter an amount/) });
		for (const bad of ['-3', 'lots', '1.234', '1e3', '1.2.3', '.5']) {
			expect(parseAmount(bad)).toEqual({ error: expect.stringMatching(/at most two decimals/) });
		}
		expect(parseAmount('1000000')).toEqual({ error: expect.stringMatching(/999999\.99/) });
	});
});
