import { describe, expect, it, vi } from 'vitest';
import { Api, ApiError, errorFrom } from '../../src/lib/api';

function fakeFetch(status: number, body: string, statusText = '') {
	return vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) => new Response(body, { status, statusText }));
}

describe('API client', () => {
	it('sends the key as x-api-key and JSON bodies', async () => {
		const fetch = fakeFetch(202, '{"id": "r1", "statusQueryGetUri": "u"}');
		const api = new Api({ fetch, key: () => 'k-123' });
		const created = await api.startRun('lesson-plan', { topic: 'fractions' });
		expect(created.id).toBe('r1');
		const [url, init] = fetch.mock.calls[0];
		expect(url).toBe('/api/v1/runs');
		expect(init?.method).toBe('POST');
		expect((init?.headers as Record<string, string>)['x-api-key']).toBe('k-123');
		expect(JSON.parse(String(init?.body))).toEqual({ graph_ref: 'lesson-plan', input: { topic: 'fractions' } });
	});

	it('sends no key header without a key, and builds queries', async () => {
		const fetch = fakeFetch(200, '{"runs": [], "next_offset": null}');
		await new Api({ fetch }).listRuns('Completed', 10, 20);
		const [url, init] = fetch.mock.calls[0];
		expect(url).toBe('/api/v1/runs?limit=10&offset=20&status=Completed');
		expect((init?.headers as Record<string, string>)['x-api-key']).toBeUndefined();
	});

	it('turns the API error body into an ApiError with details', async () => {
		const body = JSON.stringify({
			error: { code: 'invalid_request', message: 'input.grade: must be an integer', details: [{ path: 'input.grade', message: 'must be an integer' }] }
		});
		const api = new Api({ fetch: fakeFetch(400, body) });
		const error = await api.startRun('g', {}).catch((e: unknown) => e);
		expect(error).toBeInstanceOf(ApiError);
		expect(error).toMatchObject({ status: 400, code: 'invalid_request', message: 'input.grade: must be an integer' });
		expect((error as ApiError).details).toEqual([{ path: 'input.grade', message: 'must be an integer' }]);
		expect((error as ApiError).describe()).toBe('input.grade: must be an integer');
	});

	it('calls the unauthorized handler on 401', async () => {
		const onUnauthorized = vi.fn();
		const api = new Api({ fetch: fakeFetch(401, '{"error": {"code": "unauthorized", "message": "bad key"}}'), onUnauthorized });
		await expect(api.getRun('x')).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
		expect(onUnauthorized).toHaveBeenCalledOnce();
	});

	it('copes with non-JSON errors, non-JSON success and network failures', async () => {
		await expect(new Api({ fetch: fakeFetch(502, '<html>Bad gateway</html>', 'Bad Gateway') }).getRun('x')).rejects.toMatchObject({
			status: 502,
			code: 'http_502',
			message: '<html>Bad gateway</html>'
		});
		await expect(new Api({ fetch: fakeFetch(200, 'not json') }).getRun('x')).rejects.toMatchObject({ code: 'bad_response' });
		const down = vi.fn(async () => {
			throw new TypeError('Failed to fetch');
		});
		await expect(new Api({ fetch: down }).getRun('x')).rejects.toMatchObject({ status: 0, code: 'network' });
		expect(errorFrom(500, 'Internal Server Error', '')).toMatchObject({ message: 'Internal Server Error' });
		expect(errorFrom(404, '', '{"error": {}}')).toMatchObject({ code: 'http_404', message: 'HTTP 404' });
	});

	it('returns undefined for empty bodies and escapes path parts', async () => {
		const fetch = fakeFetch(200, '');
		expect(await new Api({ fetch }).sendEvent('r/1', 'appr oval', { approved: true })).toBeUndefined();
		expect(fetch.mock.calls[0][0]).toBe('/api/v1/runs/r%2F1/events/appr%20oval');
	});

	it('reads the budget and posts a consent amount', async () => {
		const fetch = fakeFetch(201, '{"amount_eur": "25.00", "recorded": true}');
		const api = new Api({ fetch, key: () => 'k' });
		expect((await api.consentToOverage('25.00')).recorded).toBe(true);
		const [url, init] = fetch.mock.calls[0];
		expect(url).toBe('/api/v1/tenants/me/overage-consent');
		expect(init?.method).toBe('POST');
		expect(JSON.parse(String(init?.body))).toEqual({ amount_eur: '25.00' });
		const conflict = new Api({ fetch: fakeFetch(409, '{"error": {"code": "conflict", "message": "managed keys are not enabled"}}') });
		await expect(conflict.getBudget()).rejects.toMatchObject({ status: 409, code: 'conflict' });
	});
});
