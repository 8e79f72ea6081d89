// The tenant API key for this browser tab: sessionStorage only, gone when the tab closes.
import { Api } from './api';

const KEY = 'convergio.apiKey';

function storage(): Storage | null {
	try {
		return typeof sessionStorage === 'undefined' ? null : sessionStorage;
	} catch {
		return null;
	}
}

export function getKey(): string | null {
	return storage()?.getItem(KEY) ?? null;
}

export function setKey(key: string): void {
	storage()?.setItem(KEY, key.trim());
}

const PRINCIPAL = 'convergio.principal';

export function clearKey(): void {
	storage()?.removeItem(KEY);
	storage()?.removeItem(PRINCIPAL);
}

/** Signed in through App Service Authentication (Entra ID): the platform's session, no key. */
export function usePrincipal(): void {
	storage()?.setItem(PRINCIPAL, '1');
}

export function isSignedIn(): boolean {
	return getKey() !== null || storage()?.getItem(PRINCIPAL) === '1';
}

let unauthorized: () => void = () => {};

/** Called by the layout: what to do when the API says the key is not (or no longer) valid. */
export function onUnauthorized(handler: () => void): void {
	unauthorized = handler;
}

export const api = new Api({ key: getKey, onUnauthorized: () => unauthorized() });
