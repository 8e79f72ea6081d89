import { describe, expect, it } from 'vitest';
import { followRun, parseSse } from '../../src/lib/live';
import { Api } from '../../src/lib/api';

describe('SSE parsing', () => {
	it('splits messages, joins data lines, skips comments and keeps the incomplete tail', () => {
		const { messages, rest } = parseSse(': keep-alive\n\nevent: node\ndata: {"a":\ndata: 1}\n\ndata: two\r\n\r\ndata: par');
		expect(messages).toEqual([
			{ event: 'node', data: '{"a":\n1}' },
			{ event: 'message', data: 'two' }
		]);
		expect(rest).toBe('data: par');
		expect(parseSse(rest + 'tial\n\n').messages).toEqual([{ event: 'message', data: 'partial' }]);
	});
});

type View = { n: number; final: boolean };

function views(...list: View[]) {
	const reads: number[] = [];
	let i = 0;
	return {
		reads,
		read: async () => {
			const view = list[Math.min(i, list.length - 1)];
			i += 1;
			reads.push(view.n);
			return view;
		}
	};
}

/** A stream that hands out the given chunks, then ends (or stays open when `hang`). */
function stream(chunks: string[], hang = false): ReadableStream<Uint8Array> {
	const encoder = new TextEncoder();
	return new ReadableStream({
		pull(controller) {
			const next = chunks.shift();
			if (next !== undefined) controller.enqueue(encoder.encode(next));
			else if (!hang) controller.close();
			else return new Promise(() => {});
		}
	});
}

const noSleep = async () => {};

describe('following a run', () => {
	it('polls until the run is final when there is no stream', async () => {
		const source = views({ n: 1, final: false }, { n: 2, final: false }, { n: 3, final: true });
		const seen: number[] = [];
		const modes: string[] = [];
		await followRun<View>({
			read: source.read,
			final: (v) => v.final,
			open: async () => null,
			onView: (v) => seen.push(v.n),
			onError: () => true,
			onMode: (m) => modes.push(m),
			signal: new AbortController().signal,
			sleep: noSleep
		});
		expect(seen).toEqual([1, 2, 3]);
		expect(modes).toEqual(['poll']);
	});

	it('reads the run once per streamed batch and stops at a final view, without polling', async () => {
		const source = views({ n: 1, final: false }, { n: 2, final: false }, { n: 3, final: true });
		const modes: string[] = [];
		let slept = 0;
		await followRun<View>({
			read: source.read,
			final: (v) => v.final,
			open: async () => stream([': ping\n\n', 'data: {"node":"a"}\n\n', 'data: x\n', '\n', 'data: never read\n\n'], true),
			onView: () => {},
			onError: () => true,
			onMode: (m) => modes.push(m),
			signal: new AbortController().signal,
			sleep: async () => void (slept += 1)
		});
		expect(source.reads).toEqual([1, 2, 3]); // the keep-alive comment caused no read
		expect(modes).toEqual(['stream']);
		expect(slept).toBe(0);
	});

	it('hands each stream message to onMessage before the view it triggers is read', async () => {
		const source = views({ n: 1, final: false }, { n: 2, final: true });
		const log: string[] = [];
		await followRun<View>({
			read: async (signal) => {
				const view = await source.read();
				log.push(`view ${view.n}`);
				return view;
			},
			final: (v) => v.final,
			open: async () => stream(['event: began\ndata: {"node":"a","step":1}\n\nevent: node\ndata: {}\n\n'], true),
			onView: () => {},
			onMessage: (m) => log.push(`${m.event} ${m.data}`),
			onError: () => true,
			signal: new AbortController().signal,
			sleep: noSleep
		});
		expect(log).toEqual(['view 1', 'began {"node":"a","step":1}', 'node {}', 'view 2']);
	});

	it('falls back to polling when the stream drops before the run ends', async () => {
		const source = views({ n: 1, final: false }, { n: 2, final: false }, { n: 3, final: false }, { n: 4, final: true });
		const modes: string[] = [];
		await followRun<View>({
			read: source.read,
			final: (v) => v.final,
			open: async () => stream(['data: 1\n\n']),
			onView: () => {},
			onError: () => true,
			onMode: (m) => modes.push(m),
			signal: new AbortController().signal,
			sleep: noSleep
		});
		expect(modes).toEqual(['stream', 'poll']);
		expect(source.reads).toEqual([1, 2, 3, 4]);
	});

	it('stops on an error the page gives up on, and when aborted', async () => {
		let reads = 0;
		await followRun({
			read: async () => {
				reads += 1;
				throw new Error('gone');
			},
			final: () => false,
			open: async () => null,
			onView: () => {},
			onError: () => false,
			signal: new AbortController().signal,
			sleep: noSleep
		});
		expect(reads).toBe(1);
		const controller = new AbortController();
		let polled = 0;
		await followRun({
			read: async () => {
				polled += 1;
				if (polled === 2) controller.abort();
				return { final: false };
			},
			final: (v) => v.final,
			open: async () => null,
			onView: () => {},
			onError: () => true,
			signal: controller.signal,
			sleep: noSleep
		});
		expect(polled).toBe(2);
	});
});

describe('stream discovery', () => {
	it('uses the stream only when the OpenAPI document names it, and only an event stream', async () => {
		const calls: string[] = [];
		const fetch = async (url: RequestInfo | URL) => {
			calls.push(String(url));
			if (String(url).endsWith('/openapi.json')) return new Response('{"paths": {"/api/v1/runs/{id}/stream": {}}}');
			return new Response('data: 1\n\n', { headers: { 'content-type': 'text/event-stream' } });
		};
		const api = new Api({ fetch });
		expect(await api.offers('/runs/{id}/stream')).toBe(true);
		expect(await api.offers('/runs/{id}/other')).toBe(false);
		expect(calls.filter((c) => c.endsWith('openapi.json'))).toHaveLength(1); // read once
		expect(await api.openStream('/runs/r1/stream')).not.toBeNull();
		const plain = new Api({ fetch: async () => new Response('{}', { headers: { 'content-type': 'application/json' } }) });
		expect(await plain.openStream('/runs/r1/stream')).toBeNull();
		expect(await new Api({ fetch: async () => new Response('nope', { status: 404 }) }).offers('/runs/{id}/stream')).toBe(false);
	});
});
