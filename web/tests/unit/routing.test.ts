import { describe, expect, it } from 'vitest';
import { explain } from '../../src/lib/explain';
import { formatScore, replansOf, routesOf } from '../../src/lib/routing';
import type { GraphSpec, NodeView } from '../../src/lib/types';

const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, tool_calls: 0 };
const node = (status: string, error: string | null = null): NodeView => ({
	status,
	attempts: status === 'completed' ? 1 : 0,
	calls: 0,
	started_at: null,
	finished_at: null,
	usage,
	cost_eur: '0',
	error
});

const spec = {
	name: 'help-desk-router',
	agents: [
		{ id: 'triage', kind: 'router', route: { candidates: ['math', 'writing', 'science'], top_k: 1, threshold: 0.08, fallback: 'writing' } },
		{ id: 'math', depends_on: ['triage'] },
		{ id: 'writing', depends_on: ['triage'] },
		{ id: 'science', depends_on: ['triage'] },
		{ id: 'essay-check', depends_on: ['writing'] },
		{ id: 'reply', depends_on: ['math', 'writing', 'science'] }
	]
} as unknown as GraphSpec;

const nodes = {
	triage: node('completed'),
	math: node('completed'),
	writing: node('skipped', "not chosen by router 'triage'"),
	science: node('skipped', "not chosen by router 'triage'"),
	'essay-check': node('skipped', 'routed away: no dependency of it was chosen'),
	reply: node('completed')
};

describe('routing decisions', () => {
	it('lists every candidate best first, the chosen one marked, the others routed away', () => {
		const [r] = routesOf({ nodes, routes: { triage: { chosen: ['math'], scores: { math: 0.42, science: 0.1, writing: 0.05 } } } }, spec);
		expect(r.router).toBe('triage');
		expect(r.summary).toBe('triage sent the request to math (score 0.42).');
		expect(r.candidates.map((c) => c.id)).toEqual(['math', 'science', 'writing']);
		expect(r.candidates[0]).toMatchObject({ chosen: true, note: 'Chosen', share: 1 });
		expect(r.candidates[1]).toMatchObject({ chosen: false, note: 'Routed away: another agent matched better' });
		expect(r.candidates[1].share).toBeCloseTo(0.1 / 0.42);
		expect(r.candidates[2].note).toBe('Routed away: below the threshold of 0.08');
		expect(r.threshold).toBe(0.08);
		expect(r.pruned).toEqual(['writing', 'science', 'essay-check']);
	});

	it('says when the fallback was taken and keeps candidates with no score', () => {
		const [r] = routesOf({ nodes, routes: { triage: { chosen: ['writing'], scores: { math: 0.03 }, fallback: true } } }, spec);
		expect(r.summary).toBe('No agent reached the threshold of 0.08, so triage used its fallback, writing.');
		expect(r.candidates.map((c) => [c.id, c.note])).toEqual([
			['writing', 'Chosen as the fallback'],
			['math', 'Routed away: below the threshold of 0.08'],
			['science', 'Routed away: another agent matched better']
		]);
		expect(r.candidates[0].score).toBeNull();
		expect(formatScore(null)).toBe('no score');
	});

	it('works without the graph (the candidates the scores name) and orders routers by the graph', () => {
		const routes = { b: { chosen: ['x'], scores: { x: 0.5, y: 0.2 } }, a: { chosen: [], scores: {} } };
		expect(routesOf({ nodes: {}, routes }, null).map((r) => r.router)).toEqual(['b', 'a']);
		const ordered = { name: 'g', agents: [{ id: 'a' }, { id: 'b' }] } as GraphSpec;
		const views = routesOf({ nodes: {}, routes }, ordered);
		expect(views.map((r) => r.router)).toEqual(['a', 'b']);
		expect(views[0].summary).toBe('a chose no agent: nothing after it ran.');
		expect(views[1].candidates.map((c) => c.id)).toEqual(['x', 'y']);
		expect(routesOf({ nodes: {} }, null)).toEqual([]);
	});

	it('explains a routed-away agent as routing, not as a failure upstream', () => {
		expect(explain("not chosen by router 'triage'", 'skipped')).toMatchObject({ cause: 'Skipped: router triage sent the request to another agent.', neutral: true });
		expect(explain('routed away: no dependency of it was chosen', 'skipped')?.cause).toBe('Skipped: the router chose another path.');
		expect(explain('removed by a re-plan', 'skipped')?.cause).toMatch(/planner took this agent out/);
		expect(explain('a dependency did not complete', 'skipped')?.cause).toBe('Skipped: an agent it needs did not finish.');
	});
});

describe('re-plans', () => {
	it('says when, which agent failed and why, what the planner did and its reason', () => {
		const [p] = replansOf({
			replans: [
				{
					node: 'math',
					status: 'failed',
					error: 'unavailable: simulated outage: attempt 3 fails',
					at: '2026-12-05T10:00:03Z',
					action: 'replace',
					reason: 'the maths tutor is down',
					changed: ['math'],
					removed: []
				}
			]
		});
		expect(p).toMatchObject({
			at: '2026-12-05T10:00:03Z',
			failed: 'math',
			cause: 'The AI provider was unavailable.',
			did: 'The planner replaced math with a new version and ran it again.',
			why: 'the maths tutor is down',
			stopped: false,
			rejected: false
		});
	});

	it('words a reroute, a stop and a revision that could not be used', () => {
		const views = replansOf({
			replans: [
				{ node: 'math', action: 'reroute', reason: 'use the backup', changed: ['math-backup', 'reply'], removed: ['math'] },
				{ node: 'science', action: 'stop', reason: 'nothing else can answer' },
				{ node: 'reply', action: 'rejected', reason: 'the planner ended failed: boom', error: 'budget exceeded', status: 'budget_exceeded' }
			]
		});
		expect(views[0].did).toBe('The planner routed around math: it added math-backup and reply. It took math out of the plan.');
		expect(views[1]).toMatchObject({ did: 'The planner stopped the run.', stopped: true });
		expect(views[2]).toMatchObject({ did: 'The planner’s answer could not be used, so the failure of reply stands.', rejected: true });
		expect(views[2].cause).toMatch(/spending limit/);
		expect(replansOf({})).toEqual([]);
	});
});
