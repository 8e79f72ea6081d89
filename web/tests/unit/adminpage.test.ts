import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/lib/api';
import { Confirmation, Listing, SentForm, describedBy } from '../../src/lib/adminpage.svelte';

const forbidden = () => new ApiError(403, 'forbidden', 'not allowed', []);
const refused = (path: string, message: string) => new ApiError(422, 'invalid_request', `${path}: ${message}`, [{ path, message }]);

function focusLog() {
	const focused: string[] = [];
	return { focused, focus: (id: string) => void focused.push(id) };
}

describe('a field described by its hint and its error', () => {
	it('names the hint, then the error, and nothing when it has neither', () => {
		expect(describedBy('key-label', true)).toBe('key-label-hint');
		expect(describedBy('key-label', true, 'Label is required.')).toBe('key-label-hint key-label-error');
		expect(describedBy('member-name', false, 'Name is required.')).toBe('member-name-error');
		expect(describedBy('member-name', false, '')).toBeUndefined();
	});
});

describe('a list loaded from the API', () => {
	it('is waiting until the first answer, then holds the rows', async () => {
		let answer: (rows: string[]) => void = () => {};
		const list = new Listing<string>(() => new Promise((ok) => (answer = ok)), 'manage keys', () => 'admin');
		expect(list.waiting).toBe(true);
		const loading = list.load();
		answer(['a', 'b']);
		await loading;
		expect([list.items, list.loading, list.waiting, list.error]).toEqual([['a', 'b'], false, false, '']);
	});

	it("says a refusal as what the caller's role may not do, and clears it on the next load", async () => {
		let fail = true;
		const list = new Listing<string>(
			async () => {
				if (fail) throw forbidden();
				return ['x'];
			},
			'manage keys',
			() => 'student'
		);
		await list.load();
		expect(list.error).toBe('Your role (student) cannot manage keys.');
		expect(list.loading).toBe(false);
		fail = false;
		await list.load();
		expect([list.items, list.error]).toEqual([['x'], '']);
	});
});

describe('a form checked, then sent', () => {
	it('sends nothing while the page finds a field wrong, and focuses the first such field', async () => {
		const { focused, focus } = focusLog();
		const form = new SentForm('key', ['label', 'role'], () => 'admin', {}, focus);
		let sent = 0;
		await form.submit({ role: 'Choose a role.', label: 'Label is required.' }, async () => void sent++);
		expect(sent).toBe(0);
		expect(form.errors.fields).toEqual({ role: 'Choose a role.', label: 'Label is required.' });
		expect(focused).toEqual(['key-role']);
	});

	it("puts the API's refusal under its field, in the form's order, and is not busy after", async () => {
		const { focused, focus } = focusLog();
		const form = new SentForm('member', ['name', 'role', 'principal_id'], () => 'admin', {}, focus);
		const sending = form.submit({}, async () => {
			expect(form.busy).toBe(true);
			throw refused('body.principal_id', 'already mapped');
		});
		await sending;
		expect(form.busy).toBe(false);
		expect(form.errors).toEqual({ fields: { principal_id: 'already mapped' }, general: '' });
		expect(focused).toEqual(['member-principal_id']);
	});

	it('shows the key an answer carried until dismissed or the next try', async () => {
		const form = new SentForm('key', ['label'], () => 'admin', {}, () => {});
		await form.submit({}, async () => form.show('cvg_secret', 'Ms Rossi'));
		expect(form.shown).toEqual({ shown: true, key: 'cvg_secret', label: 'Ms Rossi', copied: false });
		await form.submit({ label: 'Label is required.' }, async () => {});
		expect(form.shown).toEqual({ shown: false });
		form.show(null, 'signs in with Entra ID');
		expect(form.shown.shown).toBe(false);
		form.show('cvg_other', 'Bo');
		form.dismiss();
		expect(JSON.stringify(form.shown)).not.toContain('cvg_other');
	});

	it('sends a form without findings, and clears the errors of the previous try', async () => {
		const form = new SentForm('tenant', ['name'], () => 'admin', { conflict: 'name' }, () => {});
		await form.submit({}, async () => {
			throw new ApiError(409, 'conflict', 'a tenant of that name exists', []);
		});
		expect(form.errors.fields).toEqual({ name: 'a tenant of that name exists' });
		let sent = false;
		await form.submit({}, async () => void (sent = true));
		expect(sent).toBe(true);
		expect(form.errors).toEqual({ fields: {}, general: '' });
	});
});

describe('a removal confirmed in place', () => {
	function listed(rows: string[]) {
		return new Listing<string>(async () => [...rows], 'manage keys', () => 'admin');
	}

	it('moves focus to the question, and back to the row when kept', async () => {
		const { focused, focus } = focusLog();
		const confirm = new Confirmation('revoke', 'revoke keys', () => 'admin', listed([]), 'keys-title', focus);
		await confirm.ask('k1');
		expect(confirm.confirming).toBe('k1');
		await confirm.keep('k1');
		expect(confirm.confirming).toBeNull();
		expect(focused).toEqual(['confirm-revoke-k1', 'revoke-k1']);
	});

	it('once removed: closes the question, reloads the list, says so and focuses its title', async () => {
		const { focused, focus } = focusLog();
		const rows = ['m1', 'm2'];
		const members = listed(rows);
		await members.load();
		const confirm = new Confirmation('remove', 'remove members', () => 'admin', members, 'members-title', focus);
		await confirm.ask('m1');
		await confirm.confirm(async () => rows.splice(0, 1), 'm1 was removed.');
		expect([confirm.confirming, confirm.busy, confirm.error]).toEqual([null, false, '']);
		expect([members.items, members.note]).toEqual([['m2'], 'm1 was removed.']);
		expect(focused).toEqual(['confirm-remove-m1', 'members-title']);
	});

	it('keeps the question open and says why when the removal fails', async () => {
		const keys = listed(['k2']);
		const confirm = new Confirmation('revoke', 'revoke keys', () => 'teacher', keys, 'keys-title', () => {});
		await confirm.ask('k2');
		await confirm.confirm(async () => {
			throw forbidden();
		}, 'k2 was revoked.');
		expect(confirm.confirming).toBe('k2');
		expect(confirm.error).toBe('Your role (teacher) cannot revoke keys.');
		expect(keys.note).toBe('');
		await confirm.ask('k3');
		expect(confirm.error).toBe('');
	});
});
