// Big graphs, readable: parallel siblings folded into one group node, and a run's progress counts.
//
// Siblings are nodes with the same parents, the same children and the same supervisor: a fan-out
// of 100 students between a planner and a summary is one "student-000…099" node with its counts,
// expandable, instead of a column 7,000 px tall.
import { depthsOf, type DagInput } from './dag';

export const GROUP_PREFIX = 'group:';
export const MIN_GROUP = 6;

export interface Group {
	id: string;
	label: string;
	members: string[];
}

export interface Grouped {
	nodes: DagInput[];
	groups: Map<string, Group>;
}

/** "student-000…099" for student-000..student-099; the first and last ids when nothing is shared. */
export function rangeLabel(ids: string[]): string {
	if (ids.length === 0) return '';
	if (ids.length === 1) return ids[0];
	const sorted = [...ids].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
	const first = sorted[0];
	const last = sorted[sorted.length - 1];
	let common = 0;
	while (common < first.length && common < last.length && first[common] === last[common]) common++;
	// Keep whole digit runs apart: "a-1…20", not "a-…20" cutting a number in two.
	while (common > 0 && /\d/.test(first[common - 1] ?? '') && /\d/.test(first[common] ?? '')) common--;
	return `${first}…${last.slice(common)}`;
}

function key(values: Iterable<string>): string {
	return [...values].sort().join('\u0000');
}

/**
 * Fold each set of at least `minSize` siblings into one node, unless its group id is in `expanded`.
 * Edges to and from members are redirected to the group, so the layout sees a small graph.
 */
export function groupSiblings(nodes: DagInput[], expanded: ReadonlySet<string> = new Set(), minSize = MIN_GROUP): Grouped {
	const children = new Map<string, Set<string>>(nodes.map((n) => [n.id, new Set()]));
	const supervisor = new Map<string, string>();
	for (const node of nodes) {
		for (const dep of node.depends_on ?? []) children.get(dep)?.add(node.id);
		for (const worker of node.workers ?? []) supervisor.set(worker, node.id);
	}
	const depths = depthsOf(nodes);
	const bySignature = new Map<string, string[]>();
	for (const node of nodes) {
		const signature = [
			depths.get(node.id) ?? 0,
			key(node.depends_on ?? []),
			key(children.get(node.id) ?? []),
			supervisor.get(node.id) ?? '',
			(node.workers ?? []).length > 0 ? 'supervisor' : ''
		].join('\u0001');
		const list = bySignature.get(signature) ?? [];
		list.push(node.id);
		bySignature.set(signature, list);
	}
	const groupOf = new Map<string, string>();
	const groups = new Map<string, Group>();
	for (const members of bySignature.values()) {
		if (members.length < minSize) continue;
		const label = rangeLabel(members);
		const id = `${GROUP_PREFIX}${label}`;
		if (expanded.has(id)) continue;
		groups.set(id, { id, label, members });
		for (const member of members) groupOf.set(member, id);
	}
	if (groups.size === 0) return { nodes, groups };
	const rename = (id: string) => groupOf.get(id) ?? id;
	const unique = (ids: string[]) => [...new Set(ids.map(rename))];
	const out: DagInput[] = [];
	const emitted = new Set<string>();
	for (const node of nodes) {
		const id = rename(node.id);
		if (emitted.has(id)) continue;
		emitted.add(id);
		out.push({ id, depends_on: unique(node.depends_on ?? []), workers: unique(node.workers ?? []) });
	}
	return { nodes: out, groups };
}

export interface Progress {
	total: number;
	done: number;
	running: number;
	/** Asked for, waiting for a worker (seen only while the page watches the run live). */
	queued: number;
	waiting: number;
	awaiting: number;
	failed: number;
	skipped: number;
	/** Said no to by a person: a decision, counted apart from failures. */
	rejected: number;
}

const DONE = new Set(['completed', 'succeeded', 'done']);
const RUNNING = new Set(['running', 'retrying']);
const WAITING = new Set(['waiting', 'pending']);

/** How many of `ids` are done, running, waiting (not reached), awaiting input, failed or skipped. */
export function progressOf(ids: string[], states: Record<string, { status: string } | undefined>): Progress {
	const p: Progress = { total: ids.length, done: 0, running: 0, queued: 0, waiting: 0, awaiting: 0, failed: 0, skipped: 0, rejected: 0 };
	for (const id of ids) {
		const status = (states[id]?.status ?? 'waiting').toLowerCase();
		if (DONE.has(status)) p.done++;
		else if (RUNNING.has(status)) p.running++;
		else if (status === 'queued') p.queued++;
		else if (WAITING.has(status)) p.waiting++;
		else if (status === 'awaiting_input') p.awaiting++;
		else if (status === 'skipped' || status === 'cancelled') p.skipped++;
		else if (status === 'rejected') p.rejected++;
		else p.failed++;
	}
	return p;
}

/** "64 running, 36 done": the non-zero counts, in the order a teacher reads them. */
export function progressText(p: Progress): string {
	const parts: [number, string][] = [
		[p.running, 'running'],
		[p.queued, 'queued'],
		[p.awaiting, 'waiting for input'],
		[p.done, 'done'],
		[p.failed, 'failed'],
		[p.rejected, 'rejected'],
		[p.skipped, 'skipped'],
		[p.waiting, 'not started']
	];
	return parts.filter(([n]) => n > 0).map(([n, word]) => `${n} ${word}`).join(', ') || 'nothing yet';
}

/** The status a group shows: failed if any failed, else running, awaiting, waiting, done. */
export function groupStatus(p: Progress): string {
	if (p.failed) return 'failed';
	if (p.awaiting) return 'awaiting_input';
	if (p.running) return 'running';
	if (p.queued) return 'queued';
	if (p.done === p.total) return 'completed';
	if (p.done + p.skipped + p.rejected === p.total) return p.rejected ? 'rejected' : p.done ? 'completed' : 'skipped';
	return p.done ? 'running' : 'waiting';
}
