import { describe, expect, it } from 'vitest';
import { isQueued, newQueueWatch, noteMessage, noteView, withQueued } from '../../src/lib/queued';
import { progressOf, progressText } from '../../src/lib/groups';
import type { NodeView } from '../../src/lib/types';

const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, tool_calls: 0 };

function node(status: string, attempts = 0, started_at: string | null = null): NodeView {
	return { status, attempts, calls: 0, started_at, finished_at: null, usage, cost_eur: '0', error: null };
}

const began = (n: string, step: number, at = '2026-12-05T10:00:25.000Z') =>
	JSON.stringify({ node: n, attempt: 1, step, at });

describe('queued apart from running', () => {
	it('shows a node queued from when it was asked for until its call began', () => {
		const watch = newQueueWatch();
		noteView(watch, { a: node('waiting'), b: node('waiting') }, true);
		noteView(watch, { a: node('running', 1, '2026-12-05T10:00:00.000Z'), b: node('running', 1) }, true);
		expect(isQueued(watch, 'a', node('running', 1))).toBe(true);
		noteMessage(watch, 'began', began('a', 1));
		const shown = withQueued(watch, { a: node('running', 1, '2026-12-05T10:00:00.000Z'), b: node('running', 1) });
		expect([shown.a.status, shown.b.status]).toEqual(['running', 'queued']);
		expect(watch.began.get('a#1')).toBe('2026-12-05T10:00:25.000Z');
	});

	it('never calls queued what it cannot know: running before the page watched, or while polling', () => {
		const watch = newQueueWatch();
		noteView(watch, { a: node('running', 1) }, true); // the first view under watch: maybe began long ago
		noteView(watch, { a: node('running', 1) }, true);
		expect(isQueued(watch, 'a', node('running', 1))).toBe(false);
		const polled = newQueueWatch();
		noteView(polled, { a: node('waiting') }, false);
		noteView(polled, { a: node('running', 1) }, false);
		expect(withQueued(polled, { a: node('running', 1) }).a.status).toBe('running');
	});

	it('a retry is queued again until its own call begins; a began for another step does not count', () => {
		const watch = newQueueWatch();
		noteView(watch, { a: node('waiting') }, true);
		noteView(watch, { a: node('running', 1) }, true);
		noteMessage(watch, 'began', began('a', 1));
		noteView(watch, { a: node('retrying', 1) }, true);
		noteView(watch, { a: node('running', 2) }, true);
		expect(isQueued(watch, 'a', node('running', 2))).toBe(true);
		noteMessage(watch, 'began', began('a', 1)); // a late duplicate of the first
		expect(isQueued(watch, 'a', node('running', 2))).toBe(true);
		noteMessage(watch, 'began', began('a', 2));
		expect(isQueued(watch, 'a', node('running', 2))).toBe(false);
		expect(isQueued(watch, 'a', node('completed', 2))).toBe(false);
	});

	it('ignores other events and hostile data', () => {
		const watch = newQueueWatch();
		for (const [event, data] of [
			['text', began('a', 1)],
			['began', 'not json'],
			['began', '{"node": 5, "step": 1}'],
			['began', '{"node": "a", "step": "1"}'],
			['began', 'null']
		]) {
			noteMessage(watch, event, data);
		}
		expect(watch.began.size).toBe(0);
		const same = { a: node('running', 1) };
		expect(withQueued(watch, same)).toBe(same); // nothing queued: the same object, no re-render
	});

	it('counts queued agents apart in the progress line', () => {
		const p = progressOf(['a', 'b', 'c'], { a: node('running', 1), b: node('queued', 1), c: node('queued', 1) });
		expect(p).toMatchObject({ running: 1, queued: 2, waiting: 0 });
		expect(progressText(p)).toBe('1 running, 2 queued');
	});
});
