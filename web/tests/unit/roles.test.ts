import { describe, expect, it } from 'vitest';
import { errorFrom } from '../../src/lib/api';
import { ACTIONS, ADMIN_NAV, NAV, can, capabilities, forbiddenText, navFor, pageNeed, roleMessage } from '../../src/lib/roles';
import type { Me, Role } from '../../src/lib/types';

function me(role: Role, extra: Partial<Me> = {}): Me {
	return { tenant: { id: 't1', name: 'School' }, role, subject: 'member:m1', member: null, home: false, permissions: [], ...extra };
}

const labels = (m: Me | null) => navFor(m).map((l) => l.label);
const adminLabels = (m: Me | null) => navFor(m, ADMIN_NAV).map((l) => l.label);

describe('role → visible navigation', () => {
	it('shows an admin every page but Tenants, which needs the home tenant', () => {
		expect(labels(me('admin'))).toEqual(['Runs', 'Start a run', 'Keys & connections', 'Usage', 'Budgets', 'People & access']);
		expect(adminLabels(me('admin'))).toEqual(['Members', 'API keys']);
		expect(adminLabels(me('admin', { home: true }))).toEqual(['Members', 'API keys', 'Tenants']);
	});

	it('shows a teacher runs, start and usage: no connections, budgets, members or keys', () => {
		expect(labels(me('teacher'))).toEqual(['Runs', 'Start a run', 'Usage']);
		expect(adminLabels(me('teacher', { home: true }))).toEqual([]); // home alone is not enough
	});

	it("shows a student start and their own runs, called so", () => {
		expect(labels(me('student'))).toEqual(['My runs', 'Start a run']);
	});

	it('shows nothing before /me has answered', () => {
		expect(navFor(null)).toEqual([]);
		expect(capabilities(undefined).size).toBe(0);
	});

	it("prefers the API's permission list, by value or by name, over the role's table", () => {
		const custom = me('teacher', { permissions: ['start runs', "read the tenant's runs", 'read runs'] });
		expect(labels(custom)).toEqual(['Runs', 'Start a run']); // no usage: the API did not grant it
		expect(can(me('student', { permissions: ['START_RUNS', 'read_own_runs'] }), 'start')).toBe(true);
		expect(can(me('admin', { permissions: ['manage the tenant', 'start runs'] , home: true }), 'tenants')).toBe(true);
		// Names the console does not know fall back to the role.
		expect(labels(me('student', { permissions: ['read graphs'] }))).toEqual(['My runs', 'Start a run']);
	});

	it('knows which pages need what', () => {
		expect(pageNeed('/budgets')).toBe('manage');
		expect(pageNeed('/admin/keys')).toBe('manage');
		expect(pageNeed('/admin/tenants/')).toBe('tenants');
		expect(pageNeed('/admin')).toBe('manage');
		expect(pageNeed('/admin/members')).toBe('manage');
		expect(pageNeed('/runs/abc')).toBe('readOwn');
		expect(pageNeed('/usage')).toBe('usage');
		expect(pageNeed('/signin')).toBeNull();
		expect(pageNeed('/')).toBeNull();
		for (const link of [...NAV, ...ADMIN_NAV]) expect(ACTIONS[link.need]).toBeTruthy();
	});
});

describe('403 in plain words', () => {
	it("turns the API's message into what the role cannot do", () => {
		expect(roleMessage('the teacher role may not manage the tenant')).toBe('Your role (teacher) cannot manage the tenant.');
		expect(roleMessage('The Student role may not start runs.')).toBe('Your role (student) cannot start runs.');
		expect(roleMessage('wrong setup code')).toBeNull();
		expect(forbiddenText(undefined, 'do it')).toBe('Your role cannot do it.');
	});

	it('is applied to every 403 the client reads', () => {
		const body = JSON.stringify({ error: { code: 'forbidden', message: 'the teacher role may not manage the tenant', details: [] } });
		const exc = errorFrom(403, 'Forbidden', body);
		expect(exc).toMatchObject({ status: 403, code: 'forbidden', message: 'Your role (teacher) cannot manage the tenant.' });
		// Other 403s (a wrong setup code) keep their own words.
		expect(errorFrom(403, '', JSON.stringify({ error: { code: 'forbidden', message: 'the setup code is not right' } })).message).toBe(
			'the setup code is not right'
		);
	});
});
