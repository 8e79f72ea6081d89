// Honest numbers (issue 23.6): each call of an agent in plain words (which model, through which
// provider, the tokens, what the ledger billed), costs that never show an unpriced model as €0.00,
// and, after a cancel, which agents really ran and were billed.
import { explain } from './explain';
import { durationBetween, formatDuration, formatEur, formatInt } from './format';
import type { AgentAttempt, AgentDetail, Billed, NodeView, RunView } from './types';

/** What an amount billed says: "€0.0012", "1,200 tokens, no price", "€0.01 + 300 tokens with no price". */
export function costText(cost: string | number | null | undefined, unpricedTokens = 0): string {
	const amount = Number(cost ?? 0);
	if (unpricedTokens > 0) {
		const tokens = `${formatInt(unpricedTokens)} tokens, no price`;
		return amount > 0 ? `${formatEur(amount)} + ${tokens}` : tokens;
	}
	return formatEur(amount);
}

/** A node's cost cell: tokens of a model with no price show as tokens, never as €0.00. */
export function nodeCost(node: Pick<NodeView, 'cost_eur' | 'unpriced_tokens'> | null | undefined): string {
	return node ? costText(node.cost_eur, node.unpriced_tokens ?? 0) : formatEur(0);
}

const STATUS: Record<string, string> = {
	completed: 'Answered',
	failed: 'Failed',
	delegated: 'Gave work to its workers',
	budget_exceeded: 'Stopped: spending limit reached',
	tool_limit: 'Stopped: too many tool calls',
	pending: 'The remote agent is working on it',
	asked: 'Asked for, no answer yet',
	unanswered: 'Billed, but the run stopped waiting for the answer'
};

export interface CallRow {
	key: string;
	title: string;
	status: string;
	ok: boolean;
	/** "offline-1 via offline (connection “school”)", or what is known. */
	who: string;
	/** When it was asked for and how long until the answer, with what that time includes. */
	when: string;
	tokens: string;
	billed: string;
	problem: string | null;
	detail: string | null;
	tools: string | null;
	delegated: string | null;
}

/** The line "model via provider (connection …)", or what is known of it. */
export function whoAnswered(a: Pick<AgentAttempt, 'model' | 'provider' | 'connection' | 'call'>): string {
	if (a.call === 'route_request') return 'No model: the router compares the request with each agent’s description';
	const model = a.model || 'model not reported';
	const via = a.provider ? ` via ${a.provider}` : '';
	const conn = a.connection && a.connection !== a.provider ? ` (connection “${a.connection}”)` : '';
	return `${model}${via}${conn}`;
}

export function billedText(b: Billed | null, status?: string): string {
	if (!b) return status === 'asked' ? 'Nothing billed yet' : 'Not billed';
	const est = b.estimated ? ' (tokens counted by Convergio: the provider reported none)' : '';
	return `Billed: ${costText(b.cost_eur, b.unpriced_tokens)} for ${formatInt(b.tokens)} tokens${est}`;
}

function whenText(a: AgentAttempt, now: number): string {
	if (!a.asked_at) return 'Not recorded in the run: it was stopped before this call’s answer came';
	if (a.started_at) {
		const waited = durationBetween(a.asked_at, a.started_at, now);
		const ran = durationBetween(a.started_at, a.answered_at, now);
		return `Waited ${formatDuration(waited)} for a free worker, then ran ${formatDuration(ran)}`;
	}
	const took = formatDuration(durationBetween(a.asked_at, a.answered_at, now));
	return a.answered_at
		? `${took} from asking to answer (includes any wait for a free worker)`
		: `Asked ${took} ago: waiting for a free worker or running (the engine cannot tell which)`;
}

/** The calls of one agent, oldest first, as rows a teacher can read. */
export function callRows(detail: AgentDetail, now = Date.now(), replannedAt: string[] = []): CallRow[] {
	const replans = replannedAt.map((t) => Date.parse(t)).filter((t) => Number.isFinite(t));
	return detail.attempts.map((a, i) => {
		const asked = a.asked_at ? Date.parse(a.asked_at) : NaN;
		const afterReplan = replans.some((t) => asked >= t);
		const ok = a.status === 'completed' || a.status === 'delegated';
		const problem = a.error ? explain(a.error, a.status) : null;
		const toolCount = a.usage?.tool_calls ?? a.billed?.tool_calls ?? 0;
		let tools: string | null = null;
		if (a.tools?.length) tools = a.tools.map((t) => `${t.name} → ${t.result ?? '(no result)'}`).join('\n');
		else if (toolCount > 0) tools = `${formatInt(toolCount)} tool call(s); what they returned is not recorded`;
		const scored = a.scores ? Object.entries(a.scores).map(([c, s]) => `${c} ${s.toFixed(2)}`).join(', ') : '';
		return {
			key: `${a.step}-${a.attempt ?? 'x'}-${i}`,
			title: afterReplan ? `Call ${i + 1}, after the re-plan` : `Call ${i + 1}`,
			status: STATUS[a.status] ?? a.status,
			ok,
			who: whoAnswered(a),
			when: whenText(a, now),
			tokens: a.usage
				? `${formatInt(a.usage.prompt_tokens)} in, ${formatInt(a.usage.completion_tokens)} out`
				: a.call === 'route_request'
					? scored
						? `Scores: ${scored}`
						: ''
					: '',
			billed: a.call === 'route_request' && !a.billed ? 'Not billed: routing uses no model' : billedText(a.billed, a.status),
			problem: problem?.cause ?? null,
			detail: problem?.detail ?? null,
			tools,
			delegated: a.delegated.length ? a.delegated.map((d) => `${d.worker}: ${d.task}`).join('\n') : null
		};
	});
}

export interface CancelRow {
	id: string;
	status: string;
	billed: boolean;
	/** "1,200 tokens · €0.01" or "not billed". */
	what: string;
}

export interface CancelSummary {
	ranAndBilled: CancelRow[];
	/** Started, but nothing was billed for them (stopped before the provider answered, or no model needed). */
	startedUnbilled: CancelRow[];
	/** Never started here (not reached, or kept from the run this one retries). */
	neverStarted: CancelRow[];
	text: string;
}

/** After a cancel: per agent, whether it ran and was billed (the view of a cancelled run counts what the ledger billed). */
export function afterCancel(run: Pick<RunView, 'status' | 'nodes'>, order?: string[]): CancelSummary | null {
	if (run.status !== 'Terminated') return null;
	const ids = order?.length ? order.filter((id) => run.nodes[id]) : Object.keys(run.nodes);
	const rows = ids.map((id): CancelRow => {
		const n = run.nodes[id];
		const tokens = n.usage?.total_tokens ?? 0;
		const billed = tokens > 0 || Number(n.cost_eur) > 0 || (n.unpriced_tokens ?? 0) > 0;
		let what = billed ? `${formatInt(tokens)} tokens · ${nodeCost(n)}` : 'not billed';
		if (n.reused) what = 'kept from the run this one retries: not run or billed here';
		return { id, status: n.status, billed, what };
	});
	// A cancelled run shows every unfinished agent as cancelled: one that never began has no attempt.
	const started = (r: CancelRow) => r.billed || (!run.nodes[r.id].reused && ((run.nodes[r.id].attempts ?? 0) > 0 || !!run.nodes[r.id].started_at));
	const ranAndBilled = rows.filter((r) => r.billed);
	const startedUnbilled = rows.filter((r) => !r.billed && started(r));
	const neverStarted = rows.filter((r) => !r.billed && !started(r));
	const text =
		`${ranAndBilled.length} ${ranAndBilled.length === 1 ? 'agent ran and was billed' : 'agents ran and were billed'}; ` +
		`${startedUnbilled.length} started with nothing billed; ${neverStarted.length} never started.`;
	return { ranAndBilled, startedUnbilled, neverStarted, text };
}
