// The usage page's view model (issue 23.8): a period prefilled to this month, rows by graph, agent
// and run, bars only for what has value (the rest grouped), and tokens when there is no price.
import { formatEur, formatInt } from './format';
import type { UsageReport, UsageRow } from './types';

export type Metric = 'cost' | 'tokens';

/** YYYY-MM-DD of a local date. */
export function isoDay(date: Date): string {
	const pad = (n: number) => String(n).padStart(2, '0');
	return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** This month so far: its first day to today, both included. */
export function thisMonth(now = new Date()): { from: string; to: string } {
	return { from: isoDay(new Date(now.getFullYear(), now.getMonth(), 1)), to: isoDay(now) };
}

/** The whole month before this one. */
export function lastMonth(now = new Date()): { from: string; to: string } {
	return {
		from: isoDay(new Date(now.getFullYear(), now.getMonth() - 1, 1)),
		to: isoDay(new Date(now.getFullYear(), now.getMonth(), 0))
	};
}

/** The API's `to` is exclusive; people's "to" includes the day: the day after it. */
export function exclusiveEnd(day: string): string | undefined {
	const found = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
	if (!found) return undefined;
	return isoDay(new Date(Number(found[1]), Number(found[2]) - 1, Number(found[3]) + 1));
}

/** Tokens in a row's quantity (input and output tokens; tool calls and audio are not tokens). */
export function tokensOf(row: Pick<UsageRow, 'quantity'>): number {
	return Object.entries(row.quantity ?? {})
		.filter(([unit]) => unit.endsWith('tokens'))
		.reduce((sum, [, v]) => sum + Number(v), 0);
}

export function costOf(row: Pick<UsageRow, 'cost'>): number {
	const n = Number(row.cost);
	return Number.isFinite(n) ? n : 0;
}

/** Cost when anything in the report has a price; tokens when nothing has (never bars of €0.00). */
export function defaultMetric(reports: (UsageReport | null | undefined)[]): Metric {
	return reports.some((r) => (r?.rows ?? []).some((row) => costOf(row) > 0)) ? 'cost' : 'tokens';
}

/** One line of usage as the page shows it. */
export interface UsageItem {
	key: string; // stable, unique in its list
	label: string;
	detail: string; // a second line: the graph of an agent, the start of a run ('' when none)
	run: string | null; // the run to link to, for rows by run
	cost: number;
	tokens: number;
	unpriced: number; // tokens with no price
	value: number; // in the chosen metric
	text: string; // the value in words
	costText: string; // the cost, honestly: "No price" when only unpriced tokens were used
}

export function valueText(value: number, metric: Metric): string {
	return metric === 'cost' ? formatEur(value) : `${formatInt(Math.round(value))} tokens`;
}

/**
 * "€0.0012", "€0.0012 + 300 tokens with no price", "No price" (only tokens no price covers), "€0.00"
 * (a model priced at 0, such as the offline simulator), or "—" for nothing at all.
 */
export function costText(cost: number, unpriced: number, tokens: number): string {
	if (cost > 0) return unpriced > 0 ? `${formatEur(cost)} + ${formatInt(unpriced)} tokens with no price` : formatEur(cost);
	if (unpriced > 0) return 'No price';
	return tokens > 0 ? formatEur(0) : '—';
}

const short = (id: string) => (id.length > 12 ? id.slice(0, 8) : id);

/** Names for a graph that the run index no longer lists (its usage is kept). */
export const GONE_GRAPH = 'Deleted runs';

export function labelOf(row: UsageRow, keys: string[]): { key: string; label: string; detail: string; run: string | null } {
	const text = (k: string) => (row[k] === null || row[k] === undefined ? '' : String(row[k]));
	const graph = keys.includes('graph') ? text('graph') || GONE_GRAPH : '';
	const run = keys.includes('run') ? text('run') : null;
	const key = keys.map((k) => `${k}=${text(k)}`).join('&');
	if (keys.includes('agent')) return { key, label: text('agent') || '—', detail: graph ? `in ${graph}` : 'all graphs together', run: null };
	if (run !== null) {
		const started = typeof row.created_at === 'string' ? new Date(row.created_at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '';
		return { key, label: graph ? `${graph} · ${short(run)}` : `Run ${short(run)}`, detail: started ? `started ${started}` : '', run };
	}
	if (keys.includes('day')) return { key, label: text('day'), detail: '', run: null };
	return { key, label: graph || text(keys[0]) || '—', detail: '', run: null };
}

export function items(report: UsageReport | null | undefined, metric: Metric): UsageItem[] {
	if (!report) return [];
	const keys = report.group_by;
	return report.rows.map((row) => {
		const cost = costOf(row);
		const tokens = tokensOf(row);
		const unpriced = Number(row.unpriced_tokens ?? 0);
		const value = metric === 'cost' ? cost : tokens;
		return { ...labelOf(row, keys), cost, tokens, unpriced, value, text: valueText(value, metric), costText: costText(cost, unpriced, tokens) };
	});
}

export interface Bars {
	bars: UsageItem[]; // the largest, then at most one "N others" bar
	hidden: number; // rows with nothing to show in this metric (left out of the chart)
	total: number; // rows with value
}

/**
 * The chart: rows with value only, largest first, at most `limit` bars, the rest summed into one
 * "N others" bar. `inOrder` (days) keeps the rows' order and groups nothing.
 */
export function bars(list: UsageItem[], metric: Metric, limit = 10, inOrder = false): Bars {
	const valued = list.filter((i) => i.value > 0);
	const hidden = list.length - valued.length;
	if (inOrder) return { bars: valued, hidden, total: valued.length };
	const sorted = [...valued].sort((a, b) => b.value - a.value || a.label.localeCompare(b.label));
	if (sorted.length <= limit) return { bars: sorted, hidden, total: valued.length };
	const rest = sorted.slice(limit - 1);
	const sum = (f: (i: UsageItem) => number) => rest.reduce((s, i) => s + f(i), 0);
	const [value, cost, tokens, unpriced] = [sum((i) => i.value), sum((i) => i.cost), sum((i) => i.tokens), sum((i) => i.unpriced)];
	const other: UsageItem = {
		key: '__others',
		label: `${rest.length} others`,
		detail: 'together',
		run: null,
		cost,
		tokens,
		unpriced,
		value,
		text: valueText(value, metric),
		costText: costText(cost, unpriced, tokens)
	};
	return { bars: [...sorted.slice(0, limit - 1), other], hidden, total: valued.length };
}

/** The rows of a table: what has value (cost or tokens), largest first. */
export function tableRows(list: UsageItem[], metric: Metric): UsageItem[] {
	return list
		.filter((i) => i.cost > 0 || i.tokens > 0 || i.unpriced > 0)
		.sort((a, b) => b.value - a.value || b.tokens - a.tokens || a.label.localeCompare(b.label));
}

export interface Totals {
	cost: number;
	tokens: number;
	unpriced: number;
}

export function totals(report: UsageReport | null | undefined): Totals {
	const rows = report?.rows ?? [];
	return {
		cost: Number(report?.total_eur ?? 0) || 0,
		tokens: rows.reduce((s, r) => s + tokensOf(r), 0),
		unpriced: Number(report?.unpriced_tokens ?? rows.reduce((s, r) => s + Number(r.unpriced_tokens ?? 0), 0))
	};
}

/** The totals in a sentence: never "€0.00" for usage that simply has no price. */
export function totalsLine(t: Totals): string {
	if (t.tokens === 0 && t.cost === 0) return 'No usage in this period.';
	const parts = [`${formatInt(t.tokens)} tokens`];
	if (t.cost > 0) parts.push(`${formatEur(t.cost)} billed`);
	if (t.unpriced > 0) parts.push(`${formatInt(t.unpriced)} tokens with no price (not in the cost)`);
	else if (t.cost === 0) parts.push(`${formatEur(0)} billed`);
	return parts.join(' · ');
}
