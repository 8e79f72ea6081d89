// The approval card: what a waiting agent asks a person to approve, and by when (issue 23.3).
import type { GraphSpec, RunView } from './types';

export interface Approval {
	node: string;
	event: string | null;
	/** The agents whose work is being approved: the waiting agent's dependencies. */
	inputs: string[];
	/** When the wait ends on its own (the agent times out), if the graph sets a timeout. */
	deadline: Date | null;
}

/** The wait starts when the last dependency ended (or the run began); it lasts timeout_seconds. */
export function approvalsOf(run: RunView, spec: GraphSpec | null): Approval[] {
	const agents = new Map((spec?.agents ?? []).map((a) => [a.id, a]));
	return Object.entries(run.nodes)
		.filter(([, node]) => node.status === 'awaiting_input')
		.map(([id]) => {
			const agent = agents.get(id);
			const inputs = agent?.depends_on ?? [];
			const ends = inputs.map((d) => run.nodes[d]?.finished_at).filter((t): t is string => !!t);
			const since = ends.length ? Math.max(...ends.map((t) => Date.parse(t))) : Date.parse(run.created_at ?? '');
			const timeout = agent?.await_event?.timeout_seconds;
			return {
				node: id,
				event: agent?.await_event?.name ?? null,
				inputs,
				deadline: timeout && Number.isFinite(since) ? new Date(since + timeout * 1000) : null
			};
		});
}

/** "in 4 min", "in 2 h 5 min", "in 3 days", or "now" once passed. */
export function timeLeft(deadline: Date, now: number): string {
	const seconds = Math.round((deadline.getTime() - now) / 1000);
	if (seconds <= 0) return 'now';
	if (seconds < 60) return `in ${seconds} s`;
	const minutes = Math.round(seconds / 60);
	if (minutes < 60) return `in ${minutes} min`;
	const hours = Math.floor(minutes / 60);
	if (hours < 48) return `in ${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
	return `in ${Math.round(hours / 24)} days`;
}
