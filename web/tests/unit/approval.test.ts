import { describe, expect, it } from 'vitest';
import { approvalsOf, timeLeft } from '../../src/lib/approval';
import type { GraphSpec, RunView } from '../../src/lib/types';

const node = (status: string, finished_at: string | null = null) => ({
	status,
	attempts: 1,
	calls: 0,
	started_at: null,
	finished_at,
	usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, tool_calls: 0 },
	cost_eur: '0',
	error: null
});

const run = {
	id: 'r',
	graph: 'newsletter',
	status: 'Running',
	created_at: '2026-12-05T10:00:00Z',
	last_updated_at: null,
	nodes: { draft: node('completed', '2026-12-05T10:01:00Z'), publish: node('awaiting_input') },
	output: null,
	outputs: {},
	usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, tool_calls: 0 },
	cost_eur: '0',
	error: null
} as unknown as RunView;

const spec = {
	name: 'newsletter',
	agents: [
		{ id: 'draft', prompt: 'x' },
		{ id: 'publish', prompt: 'y', depends_on: ['draft'], await_event: { name: 'approve', timeout_seconds: 3600 } }
	]
} as unknown as GraphSpec;

describe('the approval card', () => {
	it('names what is approved and the deadline from the last dependency', () => {
		const [a] = approvalsOf(run, spec);
		expect(a).toMatchObject({ node: 'publish', event: 'approve', inputs: ['draft'] });
		expect(a.deadline?.toISOString()).toBe('2026-12-05T11:01:00.000Z');
	});

	it('has no deadline or inputs without the graph', () => {
		expect(approvalsOf(run, null)).toEqual([{ node: 'publish', event: null, inputs: [], deadline: null }]);
	});

	it('says the time left in words', () => {
		const at = new Date('2026-12-05T11:01:00Z');
		expect(timeLeft(at, at.getTime() - 4 * 60_000)).toBe('in 4 min');
		expect(timeLeft(at, at.getTime() - (2 * 60 + 5) * 60_000)).toBe('in 2 h 5 min');
		expect(timeLeft(at, at.getTime() + 1)).toBe('now');
	});
});
