// The state the admin pages (members, API keys, tenants) share: a list loaded from the API, a form
// sent with its errors next to its fields, and a removal confirmed in place. Each puts focus where a
// keyboard or screen-reader user expects it next: the first field in error, the question, back on
// the button that asked it.
import { tick } from 'svelte';
import { HIDDEN, describeError, formErrors, reveal, type FormErrors, type Reveal } from './admin';

/** The signed-in caller's role, read when a message is written (it may load after the page). */
export type RoleOf = () => string | null | undefined;

/** Moves focus to an element by id (a page's default: the document's). */
export type Focus = (id: string) => void;

const focusById: Focus = (id) => document.getElementById(id)?.focus();

/** `aria-describedby` of a field's control: its hint, then its error, when it has them. */
export function describedBy(id: string, hint: boolean, error?: string): string | undefined {
	const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
	return ids.length ? ids.join(' ') : undefined;
}

/**
 * A list the page loads (again after each change); a failure is said as what the role may not do. `note` says
 * what just changed in it (the page shows it in a live region).
 */
export class Listing<T> {
	items = $state<T[]>([]);
	loading = $state(true);
	error = $state('');
	note = $state('');

	constructor(
		private readonly fetch: () => Promise<T[]>,
		private readonly action: string,
		private readonly role: RoleOf
	) {}

	/** Nothing to show yet: the first load (or a reload of an empty list) is under way. */
	get waiting(): boolean {
		return this.loading && this.items.length === 0;
	}

	load = async (): Promise<void> => {
		this.loading = true;
		this.error = '';
		try {
			this.items = await this.fetch();
		} catch (exc) {
			this.error = describeError(exc, this.role(), this.action);
		} finally {
			this.loading = false;
		}
	};
}

/**
 * A form checked on the page, then sent: errors go under their fields (ids `<prefix>-<field>`) and the
 * first one takes focus; what names no field goes above the form. The key an answer carries is `shown`
 * until dismissed or the next try.
 */
export class SentForm {
	errors = $state<FormErrors>({ fields: {}, general: '' });
	busy = $state(false);
	shown = $state<Reveal>(HIDDEN);

	constructor(
		private readonly prefix: string,
		private readonly fields: string[],
		private readonly role: RoleOf,
		private readonly byCode: Record<string, string> = {},
		private readonly focus: Focus = focusById
	) {}

	/** `local`: the page's own findings (nothing is sent while there are any); `send`: the call and what follows it. */
	async submit(local: Record<string, string>, send: () => Promise<void>): Promise<void> {
		this.shown = HIDDEN;
		this.errors = { fields: local, general: '' };
		const blank = Object.keys(local)[0];
		if (blank) {
			this.focus(`${this.prefix}-${blank}`);
			return;
		}
		this.busy = true;
		try {
			await send();
		} catch (exc) {
			this.errors = formErrors(exc, this.fields, this.byCode, this.role());
			await tick();
			const first = this.fields.find((f) => this.errors.fields[f]);
			if (first) this.focus(`${this.prefix}-${first}`);
		} finally {
			this.busy = false;
		}
	}

	/** Show the key the answer carried (none: nothing to show), once. */
	show(key: string | null | undefined, label: string): void {
		this.shown = reveal(key, label);
	}

	/** The key leaves the page. */
	dismiss = (): void => {
		this.shown = HIDDEN;
	};
}

/**
 * Removing a row of a list, confirmed in place: asking moves focus to the confirm button
 * (`confirm-<verb>-<id>`), keeping gives it back to the row's button (`<verb>-<id>`); once removed, the
 * list is loaded again, says so, and its title (`titleId`) takes focus, as the row's button is gone.
 */
export class Confirmation {
	confirming = $state<string | null>(null);
	error = $state('');
	busy = $state(false);

	constructor(
		readonly verb: string,
		private readonly action: string,
		private readonly role: RoleOf,
		private readonly list: { load: () => Promise<void>; note: string },
		private readonly titleId: string,
		private readonly focus: Focus = focusById
	) {}

	ask = async (id: string): Promise<void> => {
		this.error = '';
		this.confirming = id;
		await tick();
		this.focus(`confirm-${this.verb}-${id}`);
	};

	keep = async (id: string): Promise<void> => {
		this.confirming = null;
		await tick();
		this.focus(`${this.verb}-${id}`);
	};

	/** `remove` the row; once it is gone, the list says `done`. A failure is shown, and the question stays. */
	async confirm(remove: () => Promise<unknown>, done: string): Promise<void> {
		this.busy = true;
		this.error = '';
		try {
			await remove();
			this.confirming = null;
			await this.list.load();
			this.list.note = done;
			this.focus(this.titleId);
		} catch (exc) {
			this.error = describeError(exc, this.role(), this.action);
		} finally {
			this.busy = false;
		}
	}
}
