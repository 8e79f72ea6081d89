import { describe, expect, it } from 'vitest';
import {
	STATUS_OPTIONS,
	WAITING,
	appendRuns,
	cancelNote,
	isWaiting,
	statusOptions,
	statusQuery,
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
		expect(STATUS_OPTIONS.map((o) => o.value)).toEqual(['', WAITING, 'Running', 'Pending', 'Completed', 'Failed', 'Terminated']);
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

	it('shows a cancelled run as Cancelled, by whom and why when the API gives it', () => {
		const row = runRow(run({ status: 'Terminated', cancelled_by: 'ada', cancel_reason: 'wrong class' }));
		expect(row.label).toBe('Cancelled');
		expect(row.badge).toBe('cancelled');
		expect(row.reason).toBe('Cancelled by ada: wrong class');
		expect(runRow(run({ status: 'Terminated', cancelled_by: 'teacher' })).reason).toBe('Cancelled by teacher');
		expect(runRow(run({ status: 'Terminated', cancel_reason: '  ' })).reason).toBe('');
		// A reason is text: markup stays as typed (Svelte escapes it), never parsed.
		expect(cancelNote({ cancelled_by: 'ada', cancel_reason: '<img src=x onerror=alert(1)>' })).toBe(
			'Cancelled by ada: <img src=x onerror=alert(1)>'
		);
		// A run that ended otherwise says nothing of a cancel, whatever the fields hold.
		expect(runRow(run({ status: 'Completed', cancelled_by: 'ada', cancel_reason: 'x' })).reason).toBe('');
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

describe('runs that wait for human input', () => {
	const waitingRun = (over: Partial<ListedRun> = {}) => run({ status: 'Running', awaiting_input: true, ...over });

	it('names them for whoever may answer: "Waiting for you", or "Waiting for a teacher" for a student', () => {
		const row = runRow(waitingRun(), Date.now());
		expect([row.label, row.badge, row.waiting, row.active]).toEqual(['Waiting for you', 'awaiting_input', true, true]);
		expect(runRow(waitingRun(), Date.now(), false).label).toBe('Waiting for a teacher');
		expect(statusOptions(true).find((o) => o.value === WAITING)?.label).toBe('Waiting for you');
		expect(statusOptions(false).find((o) => o.value === WAITING)?.label).toBe('Waiting for a teacher');
		expect(statusOptions(false).map((o) => o.value)).toEqual(STATUS_OPTIONS.map((o) => o.value));
	});

	it('a finished run waits for nothing, whatever a late index entry says', () => {
		expect(isWaiting(run({ status: 'Completed', awaiting_input: true }))).toBe(false);
		expect(runRow(run({ status: 'Terminated', awaiting_input: true })).label).toBe('Cancelled');
		expect(isWaiting(run({ status: 'Running' }))).toBe(false); // an older API without the field
		expect(isWaiting(run({ status: 'Pending', awaiting_input: true }))).toBe(true);
	});

	it('has its own filter: the API query is waiting=true, not a status', () => {
		expect(statusQuery(WAITING)).toEqual({ waiting: 'true' });
		expect(statusQuery('Running')).toEqual({ status: 'Running' });
		expect(statusQuery('')).toEqual({});
		const filter: RunFilter = { status: WAITING, graph: '', from: '', to: '' };
		expect(matches(waitingRun(), filter)).toBe(true);
		expect(matches(run({ status: 'Running' }), filter)).toBe(false);
		expect(matches(waitingRun({ status: 'Completed' }), filter)).toBe(false);
		expect(matches(waitingRun(), { ...filter, status: 'Running' })).toBe(true); // it is still running
	});

	it('a refresh where only the waiting changed is not a quiet one', () => {
		const before = [waitingRun()];
		expect(samePage(before, [waitingRun({ awaiting_input: false })])).toBe(false);
		expect(samePage(before, [waitingRun()])).toBe(true);
	});
});
