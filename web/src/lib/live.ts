// Following a run live: Server-Sent Events from GET /runs/{id}/stream when the API offers it
// (its OpenAPI document names the path), polling otherwise, and polling again if the stream drops.
//
// Every stream message is taken as "the run changed" and answered by reading the run view, so the
// page shows exactly what GET /runs/{id} says (costs included) whatever the messages carry.

export interface SseMessage {
	event: string;
	data: string;
}

/** Split complete SSE messages off a buffer; `rest` is the incomplete tail to keep for the next chunk. */
export function parseSse(buffer: string): { messages: SseMessage[]; rest: string } {
	const text = buffer.replace(/\r\n?/g, '\n');
	const blocks = text.split('\n\n');
	const rest = blocks.pop() ?? '';
	const messages: SseMessage[] = [];
	for (const block of blocks) {
		let event = 'message';
		const data: string[] = [];
		for (const line of block.split('\n')) {
			if (!line || line.startsWith(':')) continue; // a comment (keep-alive)
			const colon = line.indexOf(':');
			const field = colon < 0 ? line : line.slice(0, colon);
			const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
			if (field === 'event') event = value;
			else if (field === 'data') data.push(value);
		}
		if (data.length) messages.push({ event, data: data.join('\n') });
	}
	return { messages, rest };
}

export interface FollowOptions<T> {
	/** Read the run's current view. */
	read: (signal: AbortSignal) => Promise<T>;
	/** Whether a view is final (nothing more will change). */
	final: (view: T) => boolean;
	/** Open the event stream, or null when there is none. */
	open: (signal: AbortSignal) => Promise<ReadableStream<Uint8Array> | null>;
	onView: (view: T) => void;
	/** Each stream message, before the view it triggers is read (e.g. `began`: an agent got a worker). */
	onMessage?: (message: SseMessage) => void;
	/** A failed read; return false to stop following (e.g. the run is gone). */
	onError: (error: unknown) => boolean;
	/** Told whether updates are pushed (stream) or polled. */
	onMode?: (mode: 'stream' | 'poll') => void;
	signal: AbortSignal;
	intervalMs?: number;
	sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function aborted(error: unknown): boolean {
	return error instanceof DOMException && error.name === 'AbortError';
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
	return new Promise((resolve) => {
		const timer = setTimeout(resolve, ms);
		signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
	});
}

/** Follow a run until its view is final or `signal` aborts. */
export async function followRun<T>(options: FollowOptions<T>): Promise<void> {
	const { read, final, open, onView, onMessage, onError, onMode, signal } = options;
	const sleep = options.sleep ?? pause;
	const interval = options.intervalMs ?? 1000;

	/** Read once: 'final' when done, 'stop' on an error the caller gives up on, else 'more'. */
	const refresh = async (): Promise<'final' | 'stop' | 'more'> => {
		try {
			const view = await read(signal);
			if (signal.aborted) return 'stop';
			onView(view);
			return final(view) ? 'final' : 'more';
		} catch (error) {
			if (aborted(error) || signal.aborted) return 'stop';
			return onError(error) ? 'more' : 'stop';
		}
	};

	if ((await refresh()) !== 'more') return;
	let stream: ReadableStream<Uint8Array> | null = null;
	try {
		stream = await open(signal);
	} catch {
		stream = null; // no stream today: poll
	}
	if (stream && !signal.aborted) {
		onMode?.('stream');
		const reader = stream.getReader();
		const decoder = new TextDecoder();
		let buffer = '';
		try {
			for (;;) {
				const { value, done } = await reader.read();
				if (done || signal.aborted) break;
				const parsed = parseSse(buffer + decoder.decode(value, { stream: true }));
				buffer = parsed.rest;
				for (const message of parsed.messages) onMessage?.(message);
				if (parsed.messages.length && (await refresh()) !== 'more') return;
			}
		} catch (error) {
			if (signal.aborted || aborted(error)) return;
		} finally {
			reader.cancel().catch(() => {});
		}
		// The stream ended while the run goes on: a dropped connection. Poll from here.
	}
	if (signal.aborted) return;
	onMode?.('poll');
	for (;;) {
		await sleep(interval, signal);
		if (signal.aborted || (await refresh()) !== 'more') return;
	}
}
