import { describe, expect, it } from 'vitest';
import { afterCancel, billedText, callRows, costText, nodeCost, whoAnswered } from '../../src/lib/agentcalls';
import type { AgentAttempt, AgentDetail, Billed, NodeView } from '../../src/lib/types';

const usage = (total: number) => ({ prompt_tokens: total - 2, completion_tokens: 2, total_tokens: total, tool_calls: 0 });
const billed = (over: Partial<Billed> = {}): Billed => ({
	cost_eur: '0.0012',
	tokens: 30,
	unpriced_tokens: 0,
	tool_calls: 0,
	estimated: false,
	provider: 'openai',
	model: 'gpt-x',
	key_mode: 'byok',
	at: null,
	...over
});
const attempt = (over: Partial<AgentAttempt> = {}): AgentAttempt => ({
	step: 1,
	attempt: 1,
	call: 'run_agent',
	status: 'completed',
	asked_at: '2026-12-05T10:00:00Z',
	answered_at: '2026-12-05T10:00:04Z',
	started_at: null,
	connection: 'school',
	provider: 'openai',
	model: 'gpt-x',
	usage: usage(30),
	error: null,
	tools: null,
	delegated: [],
	billed: billed(),
	...over
});
const detail = (attempts: AgentAttempt[]): AgentDetail => ({ run_id: 'r', node: 'a', attempts, billed: billed() });

describe('costs that do not hide unpriced usage', () => {
	it('shows tokens of a model with no price as tokens, never as €0.00', () => {
		expect(costText('0', 1200)).toBe('1,200 tokens, no price');
		expect(costText('0.01', 300)).toBe('€0.0100 + 300 tokens, no price');
		expect(costText('0')).toBe('€0.00');
		expect(nodeCost({ cost_eur: '0', unpriced_tokens: 50 })).toBe('50 tokens, no price');
		expect(nodeCost(null)).toBe('€0.00');
		expect(billedText(billed({ cost_eur: '0', unpriced_tokens: 30 }))).toBe('Billed: 30 tokens, no price for 30 tokens');
		expect(billedText(null)).toBe('Not billed');
		expect(billedText(null, 'asked')).toBe('Nothing billed yet');
		expect(billedText(billed({ estimated: true }))).toMatch(/counted by Convergio/);
	});
});

describe('an agent’s calls in plain words', () => {
	it('names the model, the provider and the connection, and what the time includes', () => {
		const [row] = callRows(detail([attempt()]));
		expect(row).toMatchObject({ title: 'Call 1', status: 'Answered', ok: true, tokens: '28 in, 2 out', billed: 'Billed: €0.00120 for 30 tokens' });
		expect(row.who).toBe('gpt-x via openai (connection “school”)');
		expect(row.when).toBe('4.0 s from asking to answer (includes any wait for a free worker)');
		expect(whoAnswered({ model: 'offline-1', provider: 'offline', connection: 'offline', call: 'run_agent' })).toBe('offline-1 via offline');
		expect(whoAnswered({ model: null, provider: null, connection: 'school', call: 'run_agent' })).toBe('model not reported (connection “school”)');
	});

	it('marks the calls made after a re-plan of the agent', () => {
		const later = attempt({ asked_at: '2026-12-05T10:00:06Z', answered_at: '2026-12-05T10:00:07Z' });
		const rows = callRows(detail([attempt({ status: 'failed', error: 'unavailable: down' }), later]), Date.now(), ['2026-12-05T10:00:05Z']);
		expect(rows.map((r) => r.title)).toEqual(['Call 1', 'Call 2, after the re-plan']);
	});

	it('splits waiting from running when the call says when it began', () => {
		const [row] = callRows(detail([attempt({ started_at: '2026-12-05T10:00:03Z' })]));
		expect(row.when).toBe('Waited 3.0 s for a free worker, then ran 1.0 s');
	});

	it('does not pretend to know whether a call without an answer waits or runs', () => {
		const now = Date.parse('2026-12-05T10:00:10Z');
		const [row] = callRows(detail([attempt({ status: 'asked', answered_at: null, usage: null, billed: null })]), now);
		expect(row.status).toBe('Asked for, no answer yet');
		expect(row.when).toBe('Asked 10 s ago: waiting for a free worker or running (the engine cannot tell which)');
		expect(row.billed).toBe('Nothing billed yet');
	});

	it('explains a failed attempt and a call billed after a cancel', () => {
		const failed = attempt({ status: 'failed', error: "Activity function 'run_agent' failed: ProviderError: unavailable: down", usage: null, billed: null, provider: null, model: null });
		const late = attempt({ status: 'unanswered', asked_at: null, answered_at: null, usage: null, billed: billed({ tokens: 40 }) });
		const [a, b] = callRows(detail([failed, late]));
		expect(a).toMatchObject({ status: 'Failed', ok: false, problem: 'The AI provider was unavailable.', detail: 'unavailable: down', billed: 'Not billed' });
		expect(b.status).toBe('Billed, but the run stopped waiting for the answer');
		expect(b.when).toMatch(/stopped before this call’s answer came/);
		expect(b.billed).toBe('Billed: €0.00120 for 40 tokens');
	});

	it('lists tool calls with their results when recorded, and says so when they are not', () => {
		const tools = [{ name: 'word_count', arguments: { text: 'hi' }, result: '1' }];
		expect(callRows(detail([attempt({ tools })]))[0].tools).toBe('word_count → 1');
		const counted = attempt({ usage: { ...usage(30), tool_calls: 2 } });
		expect(callRows(detail([counted]))[0].tools).toBe('2 tool call(s); what they returned is not recorded');
		expect(callRows(detail([attempt()]))[0].tools).toBeNull();
	});

	it('shows a router’s scores and that routing is not billed', () => {
		const route = attempt({ call: 'route_request', provider: 'router', model: 'trigram', usage: null, billed: null, scores: { math: 0.42, writing: 0.05 } });
		const [row] = callRows(detail([route]));
		expect(row.who).toMatch(/No model/);
		expect(row.tokens).toBe('Scores: math 0.42, writing 0.05');
		expect(row.billed).toBe('Not billed: routing uses no model');
	});
});

describe('after a cancel', () => {
	const node = (status: string, total: number, cost = '0', over: Partial<NodeView> = {}): NodeView => ({
		status,
		attempts: status === 'waiting' || status === 'skipped' ? 0 : 1,
		calls: 0,
		started_at: null,
		finished_at: null,
		usage: usage(total),
		cost_eur: cost,
		error: null,
		...over
	});

	it('says per agent whether it ran and was billed', () => {
		const run = {
			status: 'Terminated' as const,
			nodes: {
				done: node('completed', 30, '0.001'),
				aborted: node('cancelled', 12, '0', { unpriced_tokens: 12 }),
				stopped: node('cancelled', 0),
				kept: node('completed', 0, '0', { reused: true, attempts: 0 }),
				later: { ...node('skipped', 0), usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, tool_calls: 0 } },
				never: node('cancelled', 0, '0', { attempts: 0 }) // shown as cancelled, but it never began
			}
		};
		const s = afterCancel(run, ['done', 'aborted', 'stopped', 'kept', 'later', 'never'])!;
		expect(s.ranAndBilled.map((r) => [r.id, r.what])).toEqual([
			['done', '30 tokens · €0.00100'],
			['aborted', '12 tokens · 12 tokens, no price']
		]);
		expect(s.startedUnbilled.map((r) => r.id)).toEqual(['stopped']);
		expect(s.neverStarted.map((r) => r.id)).toEqual(['kept', 'later', 'never']);
		expect(s.neverStarted[0].what).toMatch(/kept from the run this one retries/);
		expect(s.text).toBe('2 agents ran and were billed; 1 started with nothing billed; 3 never started.');
		expect(afterCancel({ ...run, status: 'Completed' })).toBeNull();
	});
});
