// A Gantt-like timeline: one bar per node from started_at to finished_at (or now, while running).
import { parseTime } from './format';

export interface TimedNode {
	id: string;
	status: string;
	started_at: string | null;
	finished_at: string | null;
}

export interface Bar {
	id: string;
	status: string;
	start: number; // ms since the timeline's origin
	end: number;
	offset: number; // 0..1 of the axis
	width: number; // 0..1 of the axis, never below minWidth
	open: boolean; // still running: ends at "now"
}

export interface Tick {
	at: number; // ms since the origin
	offset: number; // 0..1
	label: string;
}

export interface GanttScale {
	origin: number; // epoch ms
	span: number; // ms covered by the axis (>= 1)
	bars: Bar[];
	ticks: Tick[];
	waiting: string[]; // nodes that have not started
	peak: number; // most bars overlapping at one moment
}

const STEPS = [1, 2, 5];

/** A "nice" tick step (1, 2, 5 x 10^k ms) giving at most `maxTicks` intervals over `span`. */
export function niceStep(span: number, maxTicks = 6): number {
	const raw = Math.max(span, 1) / Math.max(1, maxTicks);
	const power = 10 ** Math.floor(Math.log10(raw));
	for (const step of STEPS) if (step * power >= raw) return step * power;
	return 10 * power;
}

export function tickLabel(ms: number, step: number): string {
	if (step < 1000) return `${(ms / 1000).toFixed(step < 100 ? 2 : 1)} s`;
	if (ms < 60_000 || step < 60_000) return `${Math.round(ms / 1000)} s`;
	return `${Math.round(ms / 60_000)} min`;
}

/** Most intervals open at once (an interval ending exactly when another starts does not overlap it). */
export function peakParallelism(intervals: { start: number; end: number }[]): number {
	const events: [number, number][] = [];
	for (const { start, end } of intervals) {
		events.push([start, 1], [Math.max(start, end), -1]);
	}
	events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
	let open = 0;
	let peak = 0;
	for (const [, delta] of events) {
		open += delta;
		peak = Math.max(peak, open);
	}
	return peak;
}

export function ganttScale(nodes: TimedNode[], now: number, minWidth = 0.005, runStart?: string | null): GanttScale {
	const timed = nodes
		.map((n) => ({ node: n, start: parseTime(n.started_at), end: parseTime(n.finished_at) }))
		.filter((t): t is { node: TimedNode; start: number; end: number | null } => t.start !== null);
	const waiting = nodes.filter((n) => parseTime(n.started_at) === null).map((n) => n.id);
	const starts = timed.map((t) => t.start);
	const first = parseTime(runStart ?? null);
	const origin = Math.min(...starts, ...(first !== null && first <= Math.min(...starts, now) ? [first] : []), now);
	const ends = timed.map((t) => t.end ?? Math.max(now, t.start));
	const last = Math.max(origin + 1, ...ends);
	const span = Math.max(1, last - origin);
	const bars: Bar[] = timed
		.map((t) => {
			const start = t.start - origin;
			const end = (t.end ?? Math.max(now, t.start)) - origin;
			// An instant step at the very end still gets a visible sliver inside the axis.
			const offset = Math.min(start / span, 1 - minWidth);
			const width = Math.min(1 - offset, Math.max(minWidth, (end - start) / span));
			return { id: t.node.id, status: t.node.status, start, end, offset, width: Math.max(0, width), open: t.end === null };
		})
		.sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
	const step = niceStep(span);
	const ticks: Tick[] = [];
	for (let at = 0; at <= span + 1e-9; at += step) ticks.push({ at, offset: at / span, label: tickLabel(at, step) });
	return { origin, span, bars, ticks, waiting, peak: peakParallelism(bars) };
}
