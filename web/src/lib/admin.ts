// View models of the setup and admin pages: API errors next to their fields, a key shown once,
// and the forms' own checks before anything is sent.
import { ApiError } from './api';
import { parseAmount } from './budget';
import { forbiddenText, roleMessage } from './roles';
import type { BudgetIn, BudgetView, Role } from './types';
import { ROLES } from './types';

export interface FormErrors {
	/** By field name: shown under that field. */
	fields: Record<string, string>;
	/** What names no field: shown above the form. */
	general: string;
}

function fieldOf(path: string, fields: string[]): string | null {
	for (const part of path.split(/[.[\]/$]+/)) if (fields.includes(part)) return part;
	return null;
}

/**
 * Spread an API error over a form: each detail whose path names one of `fields` goes under it; an error
 * whose code is in `byCode` (e.g. a wrong setup code, `forbidden`) goes under that field; the rest above.
 */
export function formErrors(exc: unknown, fields: string[], byCode: Record<string, string> = {}, role?: string | null): FormErrors {
	if (!(exc instanceof ApiError)) return { fields: {}, general: exc instanceof Error ? exc.message : String(exc) };
	const out: Record<string, string> = {};
	const rest: string[] = [];
	for (const d of exc.details) {
		const field = fieldOf(d.path, fields);
		if (field && !out[field]) out[field] = d.message || exc.message;
		else if (!field) rest.push(d.path ? `${d.path}: ${d.message}` : d.message);
	}
	if (Object.keys(out).length === 0) {
		const field = byCode[exc.code] ?? fieldOf(exc.message.split(':')[0].trim(), fields);
		if (field && fields.includes(field)) {
			const prefix = `${field}:`;
			out[field] = exc.message.startsWith(prefix) ? exc.message.slice(prefix.length).trim() : exc.message;
			return { fields: out, general: rest.join('; ') };
		}
		return { fields: out, general: describeError(exc, role) };
	}
	return { fields: out, general: rest.join('; ') };
}

/** One line for people, with a 403 said as what the caller's role cannot do. */
export function describeError(exc: unknown, role?: string | null, action?: string): string {
	if (!(exc instanceof ApiError)) return exc instanceof Error ? exc.message : String(exc);
	if (exc.status === 403) {
		if (exc.message.startsWith('Your role')) return exc.message;
		const said = roleMessage(exc.message);
		if (said) return said;
		if (action) return forbiddenText(role, action);
	}
	return exc.describe();
}

/** A key shown once: revealed by the answer that made it, copied or not, then gone for good. */
export type Reveal = { shown: false } | { shown: true; key: string; label: string; copied: boolean };

export const HIDDEN: Reveal = { shown: false };

export function reveal(key: string | undefined | null, label: string): Reveal {
	return key ? { shown: true, key, label, copied: false } : HIDDEN;
}

export function copied(state: Reveal): Reveal {
	return state.shown ? { ...state, copied: true } : state;
}

/** Dismissed: the key leaves the page's memory; nothing can show it again. */
export function dismiss(): Reveal {
	return HIDDEN;
}

export const KEY_ONCE_WARNING = 'Copy this key now: you will not see it again. Convergio keeps only a fingerprint of it.';

type Values = Record<string, string>;

/** Required fields left blank, with what to type there. */
export function required(values: Values, labels: Record<string, string>): Record<string, string> {
	const errors: Record<string, string> = {};
	for (const [name, label] of Object.entries(labels)) if (!(values[name] ?? '').trim()) errors[name] = `${label} is required.`;
	return errors;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface InviteForm {
	name: string;
	role: string;
	principal_id: string;
}

export function checkInvite(form: InviteForm): Record<string, string> {
	const errors = required({ name: form.name }, { name: 'Name' });
	if (!ROLES.includes(form.role as Role)) errors.role = 'Choose a role: admin, teacher or student.';
	const oid = form.principal_id.trim();
	if (oid && !GUID.test(oid)) errors.principal_id = 'An Entra object id looks like 00000000-0000-0000-0000-000000000000.';
	return errors;
}

export function checkKey(form: { label: string; role: string }): Record<string, string> {
	const errors = required({ label: form.label }, { label: 'Label' });
	if (!ROLES.includes(form.role as Role)) errors.role = 'Choose a role: admin, teacher or student.';
	return errors;
}

export interface BudgetForm {
	monthly_eur: string;
	managed_enabled: boolean;
	managed_cap_eur: string;
}

export function budgetForm(view: BudgetView | null): BudgetForm {
	return {
		monthly_eur: view?.monthly_eur ?? '',
		managed_enabled: view?.managed_enabled ?? false,
		managed_cap_eur: view && Number(view.managed_cap_eur) > 0 ? view.managed_cap_eur : ''
	};
}

/** The budget form → PUT /tenants/me/budget: an empty monthly limit means none; a cap is needed only with managed keys on. */
export function toBudget(form: BudgetForm): { budget: BudgetIn } | { errors: Record<string, string> } {
	const errors: Record<string, string> = {};
	let monthly: string | null = null;
	if (form.monthly_eur.trim()) {
		const parsed = parseAmount(form.monthly_eur);
		if ('error' in parsed) errors.monthly_eur = parsed.error;
		else monthly = parsed.amount;
	}
	let cap = '0.00';
	if (form.managed_enabled) {
		const parsed = parseAmount(form.managed_cap_eur);
		if ('error' in parsed) errors.managed_cap_eur = parsed.error;
		else cap = parsed.amount;
	} else if (form.managed_cap_eur.trim()) {
		const parsed = parseAmount(form.managed_cap_eur);
		if ('error' in parsed) errors.managed_cap_eur = parsed.error;
		else cap = parsed.amount;
	}
	if (Object.keys(errors).length) return { errors };
	return { budget: { monthly_eur: monthly, managed_enabled: form.managed_enabled, managed_cap_eur: cap } };
}
