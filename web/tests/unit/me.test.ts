import { afterEach, describe, expect, it, vi } from 'vitest';
import { LEGACY_ME, ensureMe, forgetMe, who } from '../../src/lib/me.svelte';

function answer(status: number, body: unknown) {
	return vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) => new Response(JSON.stringify(body), { status }));
}

const ME = { tenant: { id: 't', name: 'School' }, role: 'teacher', subject: 'member:m', member: null, home: false, permissions: [] };

describe('who the signed-in credential is', () => {
	afterEach(() => {
		forgetMe();
		vi.unstubAllGlobals();
	});

	it('loads GET /me once, however many ask at once', async () => {
		const fetch = answer(200, ME);
		vi.stubGlobal('fetch', fetch);
		const [a, b] = await Promise.all([ensureMe(), ensureMe()]);
		expect(a).toEqual(ME);
		expect(b).toEqual(ME);
		expect(who.me).toEqual(ME);
		await ensureMe();
		expect(fetch).toHaveBeenCalledOnce();
		expect(String(fetch.mock.calls[0][0])).toBe('/api/v1/me');
	});

	it('treats an API without /me as one where every key could do everything', async () => {
		vi.stubGlobal('fetch', answer(404, { error: { code: 'not_found', message: 'no route' } }));
		expect(await ensureMe()).toEqual(LEGACY_ME);
		expect(who.me?.role).toBe('admin');
	});

	it('keeps nobody on a refused key, and says why on other failures (then asks again)', async () => {
		vi.stubGlobal('fetch', answer(401, { error: { code: 'unauthorized', message: 'bad key' } }));
		expect(await ensureMe()).toBeNull();
		expect(who.error).toBe('');
		forgetMe();
		vi.stubGlobal('fetch', answer(500, { error: { code: 'internal', message: 'boom' } }));
		expect(await ensureMe()).toBeNull();
		expect(who.error).toBe('boom');
		const retry = answer(200, ME);
		vi.stubGlobal('fetch', retry);
		expect(await ensureMe()).toEqual(ME);
		expect(who.error).toBe('');
	});
});
