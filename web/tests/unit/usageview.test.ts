import { describe, expect, it } from 'vitest';
import type { UsageReport, UsageRow } from '../../src/lib/types';
import {
	GONE_GRAPH,
	bars,
	costText,
	defaultMetric,
	exclusiveEnd,
	items,
	lastMonth,
	tableRows,
	thisMonth,
	tokensOf,
	totals,
	totalsLine
} from '../../src/lib/usageview';

function row(keys: Record<string, unknown>, tokens: number, cost: string, unpriced = 0): UsageRow {
	return { ...keys, quantity: { input_tokens: tokens, tool_calls: 3 }, cost, count: 1, unpriced_tokens: unpriced };
}

function report(group_by: string[], rows: UsageRow[], total = '0', unpriced = 0): UsageReport {
	return { group_by, from: null, to: null, currency: 'EUR', rows, total_eur: total, unpriced_tokens: unpriced };
}

describe('the period', () => {
	it('starts prefilled with this month so far', () => {
		expect(thisMonth(new Date(2026, 11, 5, 23, 0))).toEqual({ from: '2026-12-01', to: '2026-12-05' });
		expect(lastMonth(new Date(2026, 0, 15))).toEqual({ from: '2025-12-01', to: '2025-12-31' });
	});

	it("sends the API (whose `to` is exclusive) the day after people's last day", () => {
		expect(exclusiveEnd('2026-12-31')).toBe('2027-01-01');
		expect(exclusiveEnd('2026-02-28')).toBe('2026-03-01');
		expect(exclusiveEnd('')).toBeUndefined();
	});
});

describe('usage by graph', () => {
	const byAgent = report(
		['graph', 'agent'],
		[row({ graph: 'essay', agent: 'writer' }, 1000, '0.003'), row({ graph: 'quiz', agent: 'writer' }, 2000, '0.004'), row({ graph: null, agent: 'old' }, 10, '0')]
	);

	it('keeps agents of the same id in different graphs apart, and names deleted runs', () => {
		const list = items(byAgent, 'cost');
		expect(list.map((i) => `${i.label} ${i.detail}`)).toEqual(['writer in essay', 'writer in quiz', `old in ${GONE_GRAPH}`]);
		expect(new Set(list.map((i) => i.key)).size).toBe(3);
	});

	it('labels runs with their graph and links them', () => {
		const runs = items(report(['graph', 'run'], [row({ graph: 'essay', run: '0123456789abcdef', created_at: '2026-12-01T10:00:00Z' }, 5, '0.1')]), 'cost');
		expect(runs[0].label).toBe('essay · 01234567');
		expect(runs[0].run).toBe('0123456789abcdef');
		expect(runs[0].detail.startsWith('started ')).toBe(true);
	});

	it('counts tokens, not tool calls', () => {
		expect(tokensOf(row({}, 1500, '0'))).toBe(1500);
		expect(tokensOf({ quantity: { input_tokens: 1, output_tokens: '2', audio_seconds: '1.5' } })).toBe(3);
	});
});

describe('bars and tables', () => {
	const many = report(
		['graph'],
		Array.from({ length: 100 }, (_, i) => row({ graph: `g${String(i).padStart(3, '0')}` }, 100 + i, i < 15 ? String((i + 1) / 100) : '0'))
	);

	it('draws no bars of €0.00: only what has value, the rest grouped', () => {
		const b = bars(items(many, 'cost'), 'cost', 10);
		expect(b.total).toBe(15);
		expect(b.hidden).toBe(85);
		expect(b.bars).toHaveLength(10);
		expect(b.bars[0].label).toBe('g014');
		expect(b.bars[9].label).toBe('6 others');
		expect(b.bars[9].value).toBeCloseTo(0.01 + 0.02 + 0.03 + 0.04 + 0.05 + 0.06);
		expect(b.bars.every((x) => x.text !== '€0.00')).toBe(true);
	});

	it('draws tokens when nothing has a price', () => {
		const free = report(['day'], [row({ day: '2026-12-01' }, 500, '0', 500), row({ day: '2026-12-02' }, 0, '0')]);
		expect(defaultMetric([free])).toBe('tokens');
		expect(defaultMetric([many])).toBe('cost');
		const b = bars(items(free, 'tokens'), 'tokens', 62, true);
		expect(b.bars.map((x) => x.text)).toEqual(['500 tokens']);
		expect(b.hidden).toBe(1);
	});

	it('keeps days in order', () => {
		const days = report(['day'], [row({ day: '2026-12-01' }, 1, '0.1'), row({ day: '2026-12-02' }, 1, '0.3')]);
		expect(bars(items(days, 'cost'), 'cost', 62, true).bars.map((b) => b.label)).toEqual(['2026-12-01', '2026-12-02']);
	});

	it('lists in the table only rows with usage, largest first', () => {
		const rows = tableRows(items(report(['graph'], [row({ graph: 'a' }, 0, '0'), row({ graph: 'b' }, 5, '0.2'), row({ graph: 'c' }, 9, '0.5')]), 'cost'), 'cost');
		expect(rows.map((r) => r.label)).toEqual(['c', 'b']);
	});

	it('writes costs honestly', () => {
		expect(costText(0, 1200, 1200)).toBe('No price');
		expect(costText(0.5, 300, 1000)).toBe('€0.500 + 300 tokens with no price');
		expect(costText(0, 0, 100)).toBe('€0.00'); // priced at 0
		expect(costText(0, 0, 0)).toBe('—');
	});

	it('sums the period in a sentence', () => {
		const t = totals(report(['day'], [row({ day: 'd' }, 800, '0', 800)], '0', 800));
		expect(t).toEqual({ cost: 0, tokens: 800, unpriced: 800 });
		expect(totalsLine(t)).toBe('800 tokens · 800 tokens with no price (not in the cost)');
		expect(totalsLine({ cost: 1.5, tokens: 10, unpriced: 0 })).toBe('10 tokens · €1.50 billed');
		expect(totalsLine({ cost: 0, tokens: 0, unpriced: 0 })).toBe('No usage in this period.');
	});
});
