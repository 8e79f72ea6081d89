// The runs list as people read it (issue 23.7, 23.9): filters, rows and phone cards, polite polling.
//
// GET /api/v1/runs filters by status (and `waiting=true`: runs that wait for human input) on the
// server and pages with `next_cursor`; it has no graph or date filter, so those two apply here, to
// the runs loaded so far (the page says so, and offers to load older runs while they may still match).
import { durationBetween, formatDuration, formatEur, formatInt, formatTime, parseTime } from './format';
import type { RunStatus, RunSummary } from './types';

/** A run in the list: what the API sends, plus what a newer API may add (read when present). */
export type ListedRun = RunSummary & {
	finished_at?: string | null;
	unpriced_tokens?: number;
	awaiting_input?: boolean; // it waits for human input (an approval)
	cancelled_by?: string | null; // who cancelled it (a member id or a role)
	cancel_reason?: string | null; // their reason: caller text, shown as text only
	error?: string | null;
};

/** The status filter's value for runs that wait for human input (`?waiting=true`, not a status). */
export const WAITING = 'waiting';

/** What the status filter asks for: one of the API's statuses, the waiting runs, or all (''). */
export type StatusChoice = RunStatus | '' | typeof WAITING;

/** What the status filter offers: the API's statuses, in people's words. */
export interface StatusOption {
	value: StatusChoice;
	label: string;
}

/** How a run that waits for input is named: for whoever may answer it, it waits for them. */
export function waitingLabel(mayRespond: boolean): string {
	return mayRespond ? 'Waiting for you' : 'Waiting for a teacher';
}

export const STATUS_OPTIONS: StatusOption[] = [
	{ value: '', label: 'All statuses' },
	{ value: WAITING, label: waitingLabel(true) },
	{ value: 'Running', label: 'Running' },
	{ value: 'Pending', label: 'Starting' },
	{ value: 'Completed', label: 'Completed' },
	{ value: 'Failed', label: 'Failed' },
	{ value: 'Terminated', label: 'Cancelled' }
];

/** The filter's options for someone who may (or may not) answer human input. */
export function statusOptions(mayRespond: boolean): StatusOption[] {
	return STATUS_OPTIONS.map((o) => (o.value === WAITING ? { ...o, label: waitingLabel(mayRespond) } : o));
}

/** The query of GET /runs for a status choice: `status=`, `waiting=true`, or nothing. */
export function statusQuery(choice: StatusChoice): Record<string, string> {
	if (choice === WAITING) return { waiting: 'true' };
	return choice ? { status: choice } : {};
}

/** Whether a run waits for human input now (a finished run waits for nothing). */
export function isWaiting(run: Pick<ListedRun, 'status' | 'awaiting_input'>): boolean {
	return run.awaiting_input === true && isActive(run);
}

/** "Cancelled by ada: wrong class", from what the list or the run view says about a cancel. */
export function cancelNote(run: { cancelled_by?: string | null; cancel_reason?: string | null }): string {
	const who = (run.cancelled_by ?? '').trim();
	const why = (run.cancel_reason ?? '').trim();
	if (!who && !why) return '';
	return `Cancelled${who ? ` by ${who}` : ''}${why ? `: ${why}` : ''}`;
}

/** The label of a run status. The API says Terminated only for a cancel (by a person or a client). */
export function statusLabel(status: string): string {
	if (status === 'Terminated') return 'Cancelled';
	if (status === 'Pending') return 'Starting';
	return status;
}

/** The status key StatusBadge colours (its table has `cancelled`). */
export function badgeStatus(status: string): string {
	return status === 'Terminated' ? 'cancelled' : status;
}

export function isActive(run: Pick<RunSummary, 'status'>): boolean {
	return run.status === 'Running' || run.status === 'Pending';
}

export interface RunFilter {
	status: StatusChoice;
	graph: string; // part of the graph's name, any case
	from: string; // YYYY-MM-DD, local day, inclusive ('' = no bound)
	to: string; // YYYY-MM-DD, local day, inclusive
}

export const NO_FILTER: RunFilter = { status: '', graph: '', from: '', to: '' };

/** Midnight (local) that starts a YYYY-MM-DD day, in ms; null for anything else. */
export function dayStart(day: string): number | null {
	const found = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day.trim());
	if (!found) return null;
	const ms = new Date(Number(found[1]), Number(found[2]) - 1, Number(found[3])).getTime();
	return Number.isNaN(ms) ? null : ms;
}

function nextDayStart(day: string): number | null {
	const start = dayStart(day);
	if (start === null) return null;
	const d = new Date(start);
	return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
}

/** Whether the filters that apply here (graph, dates) are set: the server applies status. */
export function filtersHere(filter: RunFilter): boolean {
	return filter.graph.trim() !== '' || dayStart(filter.from) !== null || dayStart(filter.to) !== null;
}

export function matches(run: ListedRun, filter: RunFilter): boolean {
	if (filter.status === WAITING ? !isWaiting(run) : filter.status && run.status !== filter.status) return false;
	const graph = filter.graph.trim().toLowerCase();
	if (graph && !run.graph.toLowerCase().includes(graph)) return false;
	const from = dayStart(filter.from);
	const to = nextDayStart(filter.to);
	if (from !== null || to !== null) {
		const at = parseTime(run.created_at);
		if (at === null) return false;
		if (from !== null && at < from) return false;
		if (to !== null && at >= to) return false;
	}
	return true;
}

/**
 * Whether older pages may still hold matching runs. The list is newest first: once the oldest run
 * loaded started before the `from` day, no older page can match.
 */
export function olderMayMatch(runs: ListedRun[], filter: RunFilter, hasMore: boolean): boolean {
	if (!hasMore) return false;
	const from = dayStart(filter.from);
	if (from === null || runs.length === 0) return true;
	const oldest = parseTime(runs[runs.length - 1].created_at);
	return oldest === null || oldest >= from;
}

/** A refreshed first page merged into the runs shown: fresh entries win, older pages stay. */
export function mergeRuns(shown: ListedRun[], fresh: ListedRun[]): ListedRun[] {
	const seen = new Set(fresh.map((r) => r.id));
	return [...fresh, ...shown.filter((r) => !seen.has(r.id))];
}

/** An older page added after the runs shown (a run already shown is not repeated). */
export function appendRuns(shown: ListedRun[], older: ListedRun[]): ListedRun[] {
	const seen = new Set(shown.map((r) => r.id));
	return [...shown, ...older.filter((r) => !seen.has(r.id))];
}

/** One run as a row (laptop) or a card (phone): every value already in words. */
export interface RunRow {
	id: string;
	short: string;
	status: string;
	badge: string;
	label: string;
	graph: string;
	started: string;
	duration: string;
	tokens: string;
	cost: string;
	costNote: string; // why the cost reads as it does ('' when it is a plain amount)
	reason: string; // "Cancelled by <who>: <reason>" or a failure's message, when the API gives one
	active: boolean;
	waiting: boolean; // it waits for human input
}

/** A run as a row; `mayRespond`: whether the viewer may answer human input (then it waits for them). */
export function runRow(run: ListedRun, now = Date.now(), mayRespond = true): RunRow {
	const active = isActive(run);
	const waiting = isWaiting(run);
	const end = active ? null : (run.finished_at ?? run.last_updated_at);
	const tokens = run.usage?.total_tokens ?? 0;
	const amount = Number(run.cost_eur ?? 0);
	let cost = formatEur(run.cost_eur);
	let costNote = '';
	// The list API may say how many tokens no price covered; then they are not shown as free.
	if ((run.unpriced_tokens ?? 0) > 0) {
		costNote = `${formatInt(run.unpriced_tokens)} tokens have no price`;
		if (amount === 0) cost = 'No price';
	}
	const reason = String((run.status === 'Terminated' ? cancelNote(run) || run.error : run.status === 'Failed' ? run.error : '') ?? '');
	return {
		id: run.id,
		short: run.id.slice(0, 8),
		status: run.status,
		badge: waiting ? 'awaiting_input' : badgeStatus(run.status),
		label: waiting ? waitingLabel(mayRespond) : statusLabel(run.status),
		graph: run.graph,
		started: formatTime(run.created_at),
		duration: formatDuration(durationBetween(run.created_at, end, now)),
		tokens: formatInt(tokens),
		cost,
		costNote,
		reason,
		active,
		waiting
	};
}

/** How long to wait before the next refresh: none when nothing goes or the tab is hidden. */
export function pollDelay(runs: Pick<RunSummary, 'status'>[], visible: boolean, quietRounds = 0): number | null {
	if (!visible || !runs.some(isActive)) return null;
	// 5 s while things change, slowing to 30 s when several refreshes in a row brought nothing new.
	return Math.min(30_000, 5_000 * 2 ** Math.min(3, Math.max(0, quietRounds)));
}

/** Whether two pages show the same thing (to count quiet refreshes). */
export function samePage(a: ListedRun[], b: ListedRun[]): boolean {
	if (a.length < b.length) return false;
	return b.every((r, i) => {
		const o = a[i];
		const same = o.id === r.id && o.status === r.status && o.awaiting_input === r.awaiting_input;
		return same && o.usage?.total_tokens === r.usage?.total_tokens && o.cost_eur === r.cost_eur;
	});
}

/** "Showing 3 of 120 loaded runs" and the like: what the list shows, said plainly. */
export function summaryLine(shown: number, loaded: number, filter: RunFilter, more: boolean): string {
	const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`;
	if (!filtersHere(filter)) return `Showing ${runs(loaded)}${more ? '; Load more for older runs' : ''}.`;
	const line = `Showing ${shown} of ${runs(loaded)} loaded`;
	return more ? `${line}; Load more to search older runs.` : `${line}.`;
}

/** GET /api/v1/runs: a page and where the next one starts. */
export interface RunPage {
	runs: ListedRun[];
	next_cursor?: string | null;
	next_offset?: number | null;
}
