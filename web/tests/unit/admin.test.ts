import { describe, expect, it, vi } from 'vitest';
import { Api, ApiError } from '../../src/lib/api';
import {
	HIDDEN,
	KEY_ONCE_WARNING,
	budgetForm,
	checkInvite,
	checkKey,
	copied,
	describeError,
	dismiss,
	formErrors,
	required,
	reveal,
	toBudget
} from '../../src/lib/admin';
import { Tenancy } from '../../src/lib/tenancy';
import type { BudgetView } from '../../src/lib/types';

describe('a key shown once', () => {
	it('is revealed by the answer that made it, marked copied, then gone', () => {
		let state = reveal('cvg_secret', 'Ms Rossi');
		expect(state).toEqual({ shown: true, key: 'cvg_secret', label: 'Ms Rossi', copied: false });
		state = copied(state);
		expect(state).toMatchObject({ shown: true, copied: true });
		state = dismiss();
		expect(state).toEqual(HIDDEN);
		expect(JSON.stringify(state)).not.toContain('cvg_secret');
		expect(copied(HIDDEN)).toEqual(HIDDEN);
	});

	it('shows nothing when the answer carried no key (an Entra member)', () => {
		expect(reveal(undefined, 'x')).toEqual(HIDDEN);
		expect(reveal('', 'x')).toEqual(HIDDEN);
	});

	it('says it will not be shown again', () => {
		expect(KEY_ONCE_WARNING).toMatch(/will not see it again/);
	});
});

describe('API errors next to their fields', () => {
	const err = (status: number, code: string, message: string, details: { path: string; message: string }[] = []) =>
		new ApiError(status, code, message, details);

	it('puts each detail under the field its path names', () => {
		const e = err(400, 'invalid_request', 'tenant_name: must not be empty', [
			{ path: 'body.tenant_name', message: 'must not be empty' },
			{ path: 'admin_name', message: 'too long' },
			{ path: 'colour', message: 'unknown field' }
		]);
		expect(formErrors(e, ['code', 'tenant_name', 'admin_name'])).toEqual({
			fields: { tenant_name: 'must not be empty', admin_name: 'too long' },
			general: 'colour: unknown field'
		});
	});

	it('puts an error by its code under a field (a wrong setup code)', () => {
		const e = err(403, 'forbidden', 'the setup code is not right');
		expect(formErrors(e, ['code', 'tenant_name'], { forbidden: 'code' })).toEqual({ fields: { code: 'the setup code is not right' }, general: '' });
	});

	it('reads a field from a message with no details', () => {
		expect(formErrors(err(400, 'invalid_request', 'role: must be one of admin, teacher, student'), ['name', 'role'])).toEqual({
			fields: { role: 'must be one of admin, teacher, student' },
			general: ''
		});
	});

	it('keeps the rest above the form, and a 403 as what the role cannot do', () => {
		expect(formErrors(err(409, 'conflict', 'already claimed'), ['code'])).toEqual({ fields: {}, general: 'already claimed' });
		expect(formErrors(err(403, 'forbidden', 'the teacher role may not manage the tenant'), ['label'], {}, 'teacher').general).toBe(
			'Your role (teacher) cannot manage the tenant.'
		);
		expect(describeError(err(403, 'forbidden', 'no'), 'student', 'manage keys')).toBe('Your role (student) cannot manage keys.');
		expect(describeError(new Error('boom'))).toBe('boom');
		expect(formErrors('odd', ['x'])).toEqual({ fields: {}, general: 'odd' });
	});
});

describe('form checks before sending', () => {
	it('asks for required fields by their label', () => {
		expect(required({ a: ' ', b: 'x' }, { a: 'Setup code', b: 'School name' })).toEqual({ a: 'Setup code is required.' });
	});

	it('checks an invitation: a name, a known role, a GUID when an Entra id is given', () => {
		expect(checkInvite({ name: 'Ada', role: 'teacher', principal_id: '' })).toEqual({});
		expect(checkInvite({ name: '', role: 'owner', principal_id: 'nope' })).toEqual({
			name: 'Name is required.',
			role: 'Choose a role: admin, teacher or student.',
			principal_id: 'An Entra object id looks like 00000000-0000-0000-0000-000000000000.'
		});
		expect(checkInvite({ name: 'Bo', role: 'student', principal_id: '0f8fad5b-d9cb-469f-a165-70867728950e' })).toEqual({});
		expect(checkKey({ label: '', role: 'teacher' })).toEqual({ label: 'Label is required.' });
	});

	it('turns the budget form into PUT /tenants/me/budget', () => {
		expect(toBudget({ monthly_eur: '', managed_enabled: false, managed_cap_eur: '' })).toEqual({
			budget: { monthly_eur: null, managed_enabled: false, managed_cap_eur: '0.00' }
		});
		expect(toBudget({ monthly_eur: '50', managed_enabled: true, managed_cap_eur: '10,5' })).toEqual({
			budget: { monthly_eur: '50.00', managed_enabled: true, managed_cap_eur: '10.50' }
		});
		expect(toBudget({ monthly_eur: 'lots', managed_enabled: true, managed_cap_eur: '' })).toEqual({
			errors: {
				monthly_eur: 'Use a number of euros with at most two decimals, for example 25.00.',
				managed_cap_eur: 'Enter an amount in euros, for example 25.00.'
			}
		});
		const view = { monthly_eur: '50.00', managed_enabled: true, managed_cap_eur: '10.00' } as BudgetView;
		expect(budgetForm(view)).toEqual({ monthly_eur: '50.00', managed_enabled: true, managed_cap_eur: '10.00' });
		expect(budgetForm(null)).toEqual({ monthly_eur: '', managed_enabled: false, managed_cap_eur: '' });
	});
});

describe('the tenancy routes', () => {
	function client(body: unknown, status = 200) {
		const fetch = vi.fn(async (_url: RequestInfo | URL, _init?: RequestInit) => new Response(JSON.stringify(body), { status }));
		return { fetch, tenancy: new Tenancy(new Api({ fetch, key: () => 'k' })) };
	}

	it('claims with the names the ADR gives', async () => {
		const { fetch, tenancy } = client({ tenant: { id: 't', name: 'S' }, member: { id: 'm', name: 'A', role: 'admin' }, key: 'cvg_x' }, 201);
		const made = await tenancy.claim('code-1', 'S', 'A');
		expect(made.key).toBe('cvg_x');
		const [url, init] = fetch.mock.calls[0];
		expect(url).toBe('/api/v1/setup/claim');
		expect(JSON.parse(String(init?.body))).toEqual({ code: 'code-1', tenant_name: 'S', admin_name: 'A' });
	});

	it('lists members and keys whether wrapped or bare, and sends the optional Entra id only when given', async () => {
		let c = client({ members: [{ id: 'm', name: 'A', role: 'teacher' }] });
		expect(await c.tenancy.listMembers()).toHaveLength(1);
		c = client([{ id: 'k', label: 'l', role: 'teacher', member: '', issued_at: '', revoked_at: null }]);
		expect(await c.tenancy.listKeys()).toHaveLength(1);
		c = client({ member: { id: 'm', name: 'B', role: 'student' }, key: 'cvg_y' }, 201);
		await c.tenancy.inviteMember('B', 'student');
		expect(JSON.parse(String(c.fetch.mock.calls[0][1]?.body))).toEqual({ name: 'B', role: 'student' });
		await c.tenancy.inviteMember('B', 'student', 'oid');
		expect(JSON.parse(String(c.fetch.mock.calls[1][1]?.body))).toEqual({ name: 'B', role: 'student', principal_id: 'oid' });
	});

	it('revokes and removes by id, encoded, and puts the budget', async () => {
		const c = client({});
		await c.tenancy.revokeKey('ab/cd');
		await c.tenancy.removeMember('m 1');
		await c.tenancy.putBudget({ monthly_eur: null, managed_enabled: false, managed_cap_eur: '0.00' });
		expect(c.fetch.mock.calls.map(([u, i]) => `${i?.method} ${u}`)).toEqual([
			'DELETE /api/v1/tenants/me/keys/ab%2Fcd',
			'DELETE /api/v1/tenants/me/members/m%201',
			'PUT /api/v1/tenants/me/budget'
		]);
	});
});
