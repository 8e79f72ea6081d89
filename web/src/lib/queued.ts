// "Queued" apart from "running" (issue 23.6): an agent whose call was asked for but has no worker yet.
//
// The run view says `running` from the moment the orchestrator asks for an agent's call; with 64
// agents allowed and 16 workers, most of them wait. While someone watches the run, each call says
// when it got a worker: a `began` stream event `{node, attempt, step, at}`, where `step` is the
// node's `attempts` while that call is the current one. A node is shown queued only when this page
// saw it become running while it watched and no `began` came for that step; a node already running
// when the page began watching may have begun before anyone watched, so it stays "running".
import type { NodeView } from './types';

export interface QueueWatch {
	/** `node#step` of the calls that began, with when (the agent's calls say how long it waited). */
	began: Map<string, string>;
	/** `node#step` of the calls this page saw asked for while it watched. */
	seen: Set<string>;
	/** Each node's `status#attempts` in the last view read while watching (undefined: not watching yet). */
	last: Map<string, string> | undefined;
}

export function newQueueWatch(): QueueWatch {
	return { began: new Map(), seen: new Set(), last: undefined };
}

function key(node: string, step: number): string {
	return `${node}#${step}`;
}

/** A stream message: a `began` event marks its call as having a worker. Others are ignored. */
export function noteMessage(watch: QueueWatch, event: string, data: string): void {
	if (event !== 'began') return;
	try {
		const body = JSON.parse(data) as { node?: unknown; step?: unknown; at?: unknown };
		if (typeof body.node === 'string' && typeof body.step === 'number') {
			watch.began.set(key(body.node, body.step), typeof body.at === 'string' ? body.at : '');
		}
	} catch {
		// not JSON: not ours to read
	}
}

/** A view read while the page watches the stream (`watching`), or not (polling: nothing is known). */
export function noteView(watch: QueueWatch, nodes: Record<string, NodeView>, watching: boolean): void {
	if (!watching) {
		watch.last = undefined;
		return;
	}
	const last = watch.last;
	const now = new Map<string, string>();
	for (const [id, node] of Object.entries(nodes)) {
		const state = `${node.status}#${node.attempts}`;
		now.set(id, state);
		// Became running (or started another attempt) while watched: the call's `began` must come.
		if (last !== undefined && node.status === 'running' && last.get(id) !== state) watch.seen.add(key(id, node.attempts));
	}
	watch.last = now;
}

/** Whether a node waits for a worker: asked for while watched, not begun. */
export function isQueued(watch: QueueWatch, id: string, node: NodeView | undefined): boolean {
	if (!node || node.status !== 'running') return false;
	const k = key(id, node.attempts);
	return watch.seen.has(k) && !watch.began.has(k);
}

/** The nodes as the page shows them: `queued` for those waiting for a worker, the others as they are. */
export function withQueued(watch: QueueWatch, nodes: Record<string, NodeView>): Record<string, NodeView> {
	let changed = false;
	const out: Record<string, NodeView> = {};
	for (const [id, node] of Object.entries(nodes)) {
		const queued = isQueued(watch, id, node);
		changed ||= queued;
		out[id] = queued ? { ...node, status: 'queued' } : node;
	}
	return changed ? out : nodes;
}
