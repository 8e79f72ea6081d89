import { describe, expect, it } from 'vitest';
import {
	STATUS_OPTIONS,
	appendRuns,
	filtersHere,
	matches,
	mergeRuns,
	olderMayMatch,
	pollDelay,
	runRow,
	samePage,
	statusLabel,
	summaryLine,
	type ListedRun,
	type RunFilter
} from '../../src/lib/runlist';

const usage = (total: number) => ({ prompt_tokens: total, completion_tokens: 0, total_tokens: total, tool_calls: 0 });

function run(over: Partial<ListedRun> = {}): ListedRun {
	return {
		id: '0123456789abcdef',
		graph: 'essay-feedback',
		status: 'Completed',
		created_at: new Date(2026, 11, 5, 10, 0, 0).toISOString(),
		last_updated_at: new Date(2026, 11, 5, 10, 0, 4).toISOString(),
		usage: usage(1234),
		cost_eur: '0.0012',
		...over
	};
}

const none: RunFilter = { status: '', graph: '', from: '', to: '' };

describe('runs list filters', () => {
	it('matches graph by any part, any case', () => {
		expect(matches(run(), { ...none, graph: 'ESSAY' })).toBe(true);
		expect(matches(run(), { ...none, graph: 'quiz' })).toBe(false);
		expect(matches(run(), { ...none, graph: '  ' })).toBe(true);
	});

	it('matches days inclusively, in local time', () => {
		expect(matches(run(), { ...none, from: '2026-12-05', to: '2026-12-05' })).toBe(true);
		expect(matches(run(), { ...none, from: '2026-12-06' })).toBe(false);
		expect(matches(run(), { ...none, to: '2026-12-04' })).toBe(false);
		expect(matches(run({ created_at: null }), { ...none, from: '2026-12-01' })).toBe(false);
		expect(matches(run(), { ...none, from: 'not a day' })).toBe(true);
	});

	it('matches status, and knows which filters apply here', () => {
		expect(matches(run(), { ...none, status: 'Failed' })).toBe(false);
		expect(filtersHere({ ...none, status: 'Failed' })).toBe(false); // the server filters status
		expect(filtersHere({ ...none, graph: 'x' })).toBe(true);
		expect(filtersHere({ ...none, to: '2026-12-01' })).toBe(true);
	});

	it('stops looking in older pages once they start before the first day', () => {
		const runs = [run(), run({ id: 'b', created_at: new Date(2026, 10, 30).toISOString() })];
		expect(olderMayMatch(runs, { ...none, from: '2026-12-01' }, true)).toBe(false);
		expect(olderMayMatch(runs, { ...none, from: '2026-11-01' }, true)).toBe(true);
		expect(olderMayMatch(runs, { ...none, graph: 'x' }, true)).toBe(true);
		expect(olderMayMatch(runs, { ...none, graph: 'x' }, false)).toBe(false);
	});

	it('offers the statuses in plain words: a cancel reads Cancelled, no made-up filter', () => {
		expect(STATUS_OPTIONS.find((o) => o.value === 'Terminated')?.label).toBe('Cancelled');
		expect(STATUS_OPTIONS.map((o) => o.value)).toEqual(['', 'Running', 'Pending', 'Completed', 'Failed', 'Terminated']);
		expect(statusLabel('Terminated')).toBe('Cancelled');
		expect(statusLabel('Pending')).toBe('Starting');
	});
});

describe('runs list rows and cards', () => {
	it('puts every value in words', () => {
		const row = runRow(run(), Date.now());
		expect(row.short).toBe('01234567');
		expect(row.duration).toBe('4.0 s');
		expect(row.tokens).toBe('1,234');
		expect(row.cost).toBe('€0.00120');
		expect(row.label).toBe('Completed');
		expect(row.active).toBe(false);
		expect(row.reason).toBe('');
	});

	it('shows a cancelled run as Cancelled, with its reason when the API gives one', () => {
		const row = runRow(run({ status: 'Terminated', reason: 'wrong class' }));
		expect(row.label).toBe('Cancelled');
		expect(row.badge).toBe('cancelled');
		expect(row.reason).toBe('wrong class');
		expect(runRow(run({ status: 'Failed', error: 'the provider is down' })).reason).toBe('the provider is down');
	});

	it('never shows unpriced tokens as free', () => {
		expect(runRow(run({ cost_eur: '0', unpriced_tokens: 500 })).cost).toBe('No price');
		const mixed = runRow(run({ cost_eur: '0.5', unpriced_tokens: 500 }));
		expect(mixed.cost).toBe('€0.500');
		expect(mixed.costNote).toBe('500 tokens have no price');
		expect(runRow(run({ cost_eur: '0' })).cost).toBe('€0.00'); // priced at 0 (the offline simulator)
	});

	it('counts a running run to now', () => {
		const start = Date.parse(run().created_at!);
		const row = runRow(run({ status: 'Running' }), start + 65_000);
		expect(row.active).toBe(true);
		expect(row.duration).toBe('1 min 5 s');
	});
});

describe('runs list paging and polling', () => {
	it('merges a refreshed first page over the runs shown', () => {
		const a = run({ id: 'a', status: 'Running' });
		const b = run({ id: 'b' });
		const merged = mergeRuns([a, b], [run({ id: 'n' }), run({ id: 'a', status: 'Completed' })]);
		expect(merged.map((r) => `${r.id}:${r.status}`)).toEqual(['n:Completed', 'a:Completed', 'b:Completed']);
		expect(appendRuns([a], [run({ id: 'a' }), b]).map((r) => r.id)).toEqual(['a', 'b']);
	});

	it('polls only while runs go and the tab is visible, slower when nothing changes', () => {
		expect(pollDelay([run()], true)).toBeNull();
		expect(pollDelay([run({ status: 'Running' })], false)).toBeNull();
		expect(pollDelay([run({ status: 'Pending' })], true)).toBe(5_000);
		expect(pollDelay([run({ status: 'Running' })], true, 2)).toBe(20_000);
		expect(pollDelay([run({ status: 'Running' })], true, 9)).toBe(30_000);
	});

	it('knows a quiet refresh', () => {
		expect(samePage([run()], [run()])).toBe(true);
		expect(samePage([run()], [run({ status: 'Failed' })])).toBe(false);
		expect(samePage([run()], [run(), run({ id: 'x' })])).toBe(false);
	});

	it('says what it shows', () => {
		expect(summaryLine(50, 50, none, true)).toBe('Showing 50 runs; Load more for older runs.');
		expect(summaryLine(1, 1, none, false)).toBe('Showing 1 run.');
		expect(summaryLine(3, 120, { ...none, graph: 'q' }, true)).toBe('Showing 3 of 120 runs loaded; Load more to search older runs.');
	});
});
