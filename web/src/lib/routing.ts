// Routing decisions and re-plans in a teacher's words (issue 23.5): which agent each router chose
// and how every candidate scored, which branches were routed away, and what the planner did when
// an agent failed for good. Built from the run view's `routes` and `replans` and the run's graph.
import { explain } from './explain';
import type { AgentSpec, GraphSpec, NodeView, Replan, RunView } from './types';

interface RouteSpec {
	candidates?: string[];
	top_k?: number;
	threshold?: number;
	fallback?: string | null;
}

export interface CandidateRow {
	id: string;
	/** The similarity score, or null when the router kept no score for it (not among the best). */
	score: number | null;
	/** The bar's length, 0..1: the score against the best score of this router. */
	share: number;
	chosen: boolean;
	/** "Chosen", "Chosen as the fallback", or why it did not run. */
	note: string;
}

export interface RouterView {
	router: string;
	chosen: string[];
	fallback: boolean;
	threshold: number | null;
	candidates: CandidateRow[];
	/** One sentence: what the router did. */
	summary: string;
	/** Agents further down that did not run because their branch was routed away. */
	pruned: string[];
}

export interface ReplanView {
	at: string | null;
	failed: string;
	/** Why the agent failed, in plain words. */
	cause: string;
	/** What the planner did, in plain words. */
	did: string;
	/** The planner's own reason (or why its answer could not be used). */
	why: string;
	changed: string[];
	removed: string[];
	stopped: boolean;
	rejected: boolean;
}

export function formatScore(score: number | null): string {
	return score === null ? 'no score' : score.toFixed(2);
}

function list(ids: string[]): string {
	if (ids.length <= 1) return ids[0] ?? '';
	return `${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`;
}

function routeOf(spec: GraphSpec | null, router: string): RouteSpec | null {
	const agent = spec?.agents.find((a) => a.id === router) as (AgentSpec & { route?: RouteSpec }) | undefined;
	return agent?.route ?? null;
}

/** Every router of the run that decided, in the graph's order, with its candidates best first. */
export function routesOf(run: Pick<RunView, 'routes' | 'nodes'>, spec: GraphSpec | null): RouterView[] {
	const routes = run.routes ?? {};
	const order = spec ? spec.agents.map((a) => a.id) : [];
	const routers = Object.keys(routes).sort((a, b) => rank(order, a) - rank(order, b));
	return routers.map((router) => {
		const decision = routes[router];
		const scores = decision.scores ?? {};
		const chosen = decision.chosen ?? [];
		const route = routeOf(spec, router);
		const threshold = typeof route?.threshold === 'number' ? route.threshold : null;
		const ids = [...new Set([...(route?.candidates ?? []), ...Object.keys(scores), ...chosen])];
		const best = Math.max(0, ...Object.values(scores).filter((s) => Number.isFinite(s)));
		const fallback = !!decision.fallback;
		const candidates = ids
			.map((id): CandidateRow => {
				const score = typeof scores[id] === 'number' ? scores[id] : null;
				const isChosen = chosen.includes(id);
				let note: string;
				if (isChosen) note = fallback ? 'Chosen as the fallback' : 'Chosen';
				else if (score !== null && threshold !== null && score < threshold) note = `Routed away: below the threshold of ${formatScore(threshold)}`;
				else note = 'Routed away: another agent matched better';
				return { id, score, share: score === null || best <= 0 ? 0 : Math.max(0, Math.min(1, score / best)), chosen: isChosen, note };
			})
			.sort((a, b) => Number(b.chosen) - Number(a.chosen) || (b.score ?? -1) - (a.score ?? -1) || a.id.localeCompare(b.id));
		return {
			router,
			chosen,
			fallback,
			threshold,
			candidates,
			summary: summaryOf(router, chosen, fallback, scores, threshold),
			pruned: prunedBy(run.nodes, ids.filter((id) => !chosen.includes(id)))
		};
	});
}

function rank(order: string[], id: string): number {
	const i = order.indexOf(id);
	return i < 0 ? order.length : i;
}

function summaryOf(router: string, chosen: string[], fallback: boolean, scores: Record<string, number>, threshold: number | null): string {
	if (!chosen.length) return `${router} chose no agent: nothing after it ran.`;
	if (fallback) {
		const bar = threshold === null ? '' : ` of ${formatScore(threshold)}`;
		return `No agent reached the threshold${bar}, so ${router} used its fallback, ${list(chosen)}.`;
	}
	const scored = chosen.map((c) => (typeof scores[c] === 'number' ? `${c} (score ${formatScore(scores[c])})` : c));
	return `${router} sent the request to ${list(scored)}.`;
}

/** Nodes skipped because a branch was routed away: the unchosen candidates and what depended only on them. */
function prunedBy(nodes: Record<string, NodeView>, unchosen: string[]): string[] {
	const skipped = unchosen.filter((id) => nodes[id]?.status === 'skipped');
	const further = Object.entries(nodes)
		.filter(([id, n]) => !unchosen.includes(id) && n.status === 'skipped' && /routed away/i.test(n.error ?? ''))
		.map(([id]) => id);
	return [...skipped, ...further];
}

const ACTIONS: Record<string, (r: Replan) => string> = {
	replace: (r) => `The planner replaced ${r.node} with a new version and ran it again${others(r, r.node)}.`,
	reroute: (r) => {
		const added = (r.changed ?? []).filter((c) => c !== r.node);
		return added.length ? `The planner routed around ${r.node}: it added ${list(added)}.` : `The planner routed around ${r.node}.`;
	},
	stop: () => 'The planner stopped the run.',
	rejected: (r) => `The planner’s answer could not be used, so the failure of ${r.node} stands.`
};

function others(r: Replan, except: string): string {
	const changed = (r.changed ?? []).filter((c) => c !== except);
	return changed.length ? ` (it also changed ${list(changed)})` : '';
}

/** Each re-plan, oldest first: when, which agent failed and why, what the planner did and why. */
export function replansOf(run: Pick<RunView, 'replans'>): ReplanView[] {
	return (run.replans ?? []).map((r) => {
		const did = (ACTIONS[r.action] ?? ((x: Replan) => `The planner answered “${x.action}”.`))(r);
		const removed = r.removed ?? [];
		const cause = explain(r.error ?? '', r.status ?? 'failed')?.cause ?? `${r.node} failed.`;
		return {
			at: r.at ?? null,
			failed: r.node,
			cause,
			did: removed.length ? `${did} It took ${list(removed)} out of the plan.` : did,
			why: r.reason ?? '',
			changed: r.changed ?? [],
			removed,
			stopped: r.action === 'stop',
			rejected: r.action === 'rejected'
		};
	});
}
