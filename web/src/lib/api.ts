// A small client for /api/v1: the tenant key as x-api-key, errors as ApiError.
import type {
	AgentDetail,
	BudgetView,
	ConnectionIn,
	ConnectionView,
	GraphInfo,
	GraphSpec,
	RunCreated,
	RunList,
	RunStatus,
	RunView,
	UsageReport
} from './types';
import { roleMessage } from './roles';
import { statusQuery, type RunPage, type StatusChoice } from './runlist';

export interface ErrorDetail {
	path: string;
	message: string;
}

export class ApiError extends Error {
	readonly status: number;
	readonly code: string;
	readonly details: ErrorDetail[];

	constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
		this.details = details;
	}

	/** One line for people: the message, then each detail's path. */
	describe(): string {
		const extra = this.details
			.filter((d) => d.message && !this.message.includes(d.path))
			.map((d) => `${d.path}: ${d.message}`);
		return [this.message, ...extra].join('; ');
	}
}

export interface ApiOptions {
	base?: string;
	fetch?: typeof fetch;
	key?: () => string | null;
	onUnauthorized?: () => void;
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "no run '0a1b…'" (a 404 of /runs/{id}) in people's words. */
export function missingRun(message: string): string | null {
	return /^no run '[^']*'$/.test(message.trim()) ? 'This run does not exist or was deleted.' : null;
}

/** Turn a failed answer into an ApiError, whatever its body looks like. */
export function errorFrom(status: number, statusText: string, text: string): ApiError {
	let body: unknown = null;
	try {
		body = text ? JSON.parse(text) : null;
	} catch {
		body = null;
	}
	if (isRecord(body) && isRecord(body.error)) {
		const err = body.error;
		const details = Array.isArray(err.details)
			? err.details.filter(isRecord).map((d) => ({ path: String(d.path ?? ''), message: String(d.message ?? '') }))
			: [];
		const message = typeof err.message === 'string' ? err.message : statusText || `HTTP ${status}`;
		return new ApiError(
			status,
			typeof err.code === 'string' ? err.code : `http_${status}`,
			(status === 403 && roleMessage(message)) || (status === 404 && missingRun(message)) || message, // "Your role (teacher) cannot …"
			details
		);
	}
	const snippet = text.trim().slice(0, 200);
	const message = status === 401 ? 'The API key was not accepted; sign in again.' : snippet || statusText || `HTTP ${status}`;
	return new ApiError(status, status === 401 ? 'unauthorized' : `http_${status}`, message);
}

export class Api {
	private readonly base: string;
	private readonly fetcher: typeof fetch;
	private readonly key: () => string | null;
	private readonly onUnauthorized: () => void;

	constructor(options: ApiOptions = {}) {
		this.base = (options.base ?? '/api/v1').replace(/\/$/, '');
		this.fetcher = options.fetch ?? ((input, init) => fetch(input, init));
		this.key = options.key ?? (() => null);
		this.onUnauthorized = options.onUnauthorized ?? (() => {});
	}

	private paths: Promise<string[]> | null = null;

	/** Whether the API's (public) OpenAPI document names a path such as `/runs/{id}/stream`; read once. */
	async offers(path: string): Promise<boolean> {
		this.paths ??= this.fetcher(`${this.base}/openapi.json`, { headers: { accept: 'application/json' } })
			.then((r) => (r.ok ? r.json() : {}))
			.then((doc: unknown) => (isRecord(doc) && isRecord(doc.paths) ? Object.keys(doc.paths) : []))
			.catch(() => []);
		return (await this.paths).some((p) => p.endsWith(path));
	}

	/** An event stream's body, or null when the answer is not one (the caller then polls). */
	async openStream(path: string, signal?: AbortSignal): Promise<ReadableStream<Uint8Array> | null> {
		const headers: Record<string, string> = { accept: 'text/event-stream' };
		const key = this.key();
		if (key) headers['x-api-key'] = key;
		const response = await this.fetcher(`${this.base}${path}`, { headers, signal });
		if (response.ok && response.body && response.headers.get('content-type')?.startsWith('text/event-stream')) {
			return response.body;
		}
		await response.body?.cancel().catch(() => {});
		return null;
	}

	async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
		const headers: Record<string, string> = { accept: 'application/json' };
		const key = this.key();
		if (key) headers['x-api-key'] = key;
		if (body !== undefined) headers['content-type'] = 'application/json';
		let response: Response;
		try {
			response = await this.fetcher(`${this.base}${path}`, {
				method,
				headers,
				body: body === undefined ? undefined : JSON.stringify(body),
				signal
			});
		} catch (exc) {
			if (exc instanceof DOMException && exc.name === 'AbortError') throw exc;
			throw new ApiError(0, 'network', 'Cannot reach the Convergio API; check the connection and try again.');
		}
		const text = await response.text();
		if (!response.ok) {
			if (response.status === 401) this.onUnauthorized();
			throw errorFrom(response.status, response.statusText, text);
		}
		if (!text) return undefined as T;
		try {
			return JSON.parse(text) as T;
		} catch {
			throw new ApiError(response.status, 'bad_response', 'The API answered with something that is not JSON.');
		}
	}

	listRuns(status?: RunStatus | '', limit = 50, offset = 0): Promise<RunList> {
		const query = new URLSearchParams({ limit: String(limit), offset: String(offset) });
		if (status) query.set('status', status);
		return this.request('GET', `/runs?${query}`);
	}

	getRun(id: string, signal?: AbortSignal): Promise<RunView> {
		return this.request('GET', `/runs/${encodeURIComponent(id)}`, undefined, signal);
	}

	startRun(graphRef: string, input: unknown): Promise<RunCreated> {
		return this.request('POST', '/runs', { graph_ref: graphRef, input });
	}

	cancelRun(id: string, reason?: string): Promise<unknown> {
		return this.request('POST', `/runs/${encodeURIComponent(id)}/cancel`, reason ? { reason } : {});
	}

	sendEvent(id: string, name: string, payload: { approved: boolean; comment?: string }): Promise<unknown> {
		return this.request('POST', `/runs/${encodeURIComponent(id)}/events/${encodeURIComponent(name)}`, payload);
	}

	/** A new run of the same graph and input; "failed" keeps the agents that completed. */
	retryRun(id: string, mode: 'failed' | 'all'): Promise<{ id: string; kept: string[] }> {
		return this.request('POST', `/runs/${encodeURIComponent(id)}/retry`, { mode });
	}

	/** What finished agents wrote, read from the run's history (while it runs, or after it failed). */
	async getRunOutputs(id: string, nodes: string[]): Promise<Record<string, unknown>> {
		const query = nodes.length ? `?nodes=${encodeURIComponent(nodes.join(','))}` : '';
		const body = await this.request<{ outputs: Record<string, unknown> }>('GET', `/runs/${encodeURIComponent(id)}/outputs${query}`);
		return body.outputs;
	}

	async listGraphs(): Promise<GraphInfo[]> {
		const body = await this.request<{ graphs: GraphInfo[] }>('GET', '/graphs');
		return body.graphs;
	}

	getGraph(name: string): Promise<GraphSpec> {
		return this.request('GET', `/graphs/${encodeURIComponent(name)}`);
	}

	/** The shape of the graph a run executes, inline graphs included (read once per run page). */
	getRunGraph(runId: string): Promise<GraphSpec> {
		return this.request('GET', `/runs/${encodeURIComponent(runId)}/graph`);
	}

	async listConnections(): Promise<ConnectionView[]> {
		const body = await this.request<{ connections: ConnectionView[] }>('GET', '/tenants/me/connections');
		return body.connections;
	}

	putConnection(name: string, connection: ConnectionIn): Promise<unknown> {
		return this.request('PUT', `/tenants/me/connections/${encodeURIComponent(name)}`, connection);
	}

	deleteConnection(name: string): Promise<unknown> {
		return this.request('DELETE', `/tenants/me/connections/${encodeURIComponent(name)}`);
	}

	getBudget(): Promise<BudgetView> {
		return this.request('GET', '/tenants/me/budget');
	}

	/** Consent to managed-key spending over this month's cap, up to `amountEur` (replaces an earlier consent). */
	consentToOverage(amountEur: string): Promise<{ amount_eur: string; recorded: boolean }> {
		return this.request('POST', '/tenants/me/overage-consent', { amount_eur: amountEur });
	}

	usage(groupBy: string, from?: string, to?: string): Promise<UsageReport> {
		const query = new URLSearchParams({ group_by: groupBy });
		if (from) query.set('from', from);
		if (to) query.set('to', to);
		return this.request('GET', `/usage?${query}`);
	}

	/** A page of runs, newest first, paged by cursor (`next_cursor` of the page before). */
	runsPage(status: StatusChoice, limit = 50, cursor?: string | null, signal?: AbortSignal): Promise<RunPage> {
		const query = new URLSearchParams({ limit: String(limit), ...statusQuery(status) });
		if (cursor) query.set('cursor', cursor);
		return this.request('GET', `/runs?${query}`, undefined, signal);
	}

	/** Usage rolled up by graph (`graph`, `graph,agent` or `graph,run`): GET /usage/graphs. */
	usageByGraph(groupBy: string, from?: string, to?: string): Promise<UsageReport> {
		const query = new URLSearchParams({ group_by: groupBy });
		if (from) query.set('from', from);
		if (to) query.set('to', to);
		return this.request('GET', `/usage/graphs?${query}`);
	}

	/** One agent's calls: model, provider, usage, what was billed, errors; the prompt only when asked for. */
	getRunAgent(runId: string, node: string, prompt = false, signal?: AbortSignal): Promise<AgentDetail> {
		const query = prompt ? '?prompt=true' : '';
		return this.request('GET', `/runs/${encodeURIComponent(runId)}/agents/${encodeURIComponent(node)}${query}`, undefined, signal);
	}
}
