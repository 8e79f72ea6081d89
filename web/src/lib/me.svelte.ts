// Who the signed-in credential is (GET /me), shared by the layout and the pages; loaded once per key.
import { ApiError } from './api';
import { api, getKey } from './session';
import { Tenancy } from './tenancy';
import type { Me } from './types';

export const tenancy = new Tenancy(api);

/** An API older than roles has no /me: its keys could do everything, as an admin of a tenant that is not home. */
export const LEGACY_ME: Me = {
	tenant: { id: '', name: '' },
	role: 'admin',
	subject: '',
	member: null,
	home: false,
	permissions: []
};

export const who = $state<{ me: Me | null; error: string; loading: boolean }>({ me: null, error: '', loading: false });

let loadedFor: string | null | undefined = undefined;
let pending: Promise<Me | null> | null = null;

/** Load /me for the current key (or Entra session) unless it is loaded already. */
export function ensureMe(): Promise<Me | null> {
	const key = getKey();
	if (loadedFor === key && (who.me || pending)) return pending ?? Promise.resolve(who.me);
	loadedFor = key;
	who.loading = true;
	who.error = '';
	const loading = tenancy
		.me()
		.then((me) => me, (exc: unknown) => {
			if (exc instanceof ApiError && exc.status === 404) return LEGACY_ME;
			if (exc instanceof ApiError && exc.status === 401) return null;
			who.error = exc instanceof ApiError ? exc.describe() : String(exc);
			loadedFor = undefined;
			return null;
		})
		.then((me) => {
			if (pending === loading) {
				who.me = me;
				who.loading = false;
				pending = null;
			}
			return me;
		});
	pending = loading;
	return loading;
}

/** Signed out: forget who it was. */
export function forgetMe(): void {
	loadedFor = undefined;
	pending = null;
	who.me = null;
	who.error = '';
	who.loading = false;
}
