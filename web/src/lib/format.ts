// Display helpers: durations, money, times, token counts.

export function parseTime(value: string | null | undefined): number | null {
	if (!value) return null;
	const ms = Date.parse(value);
	return Number.isNaN(ms) ? null : ms;
}

export function formatDuration(ms: number | null): string {
	if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
	if (ms < 1000) return `${Math.round(ms)} ms`;
	const seconds = ms / 1000;
	if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
	const minutes = Math.floor(seconds / 60);
	const rest = Math.round(seconds % 60);
	if (minutes < 60) return `${minutes} min ${rest} s`;
	return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function durationBetween(start: string | null | undefined, end: string | null | undefined, now = Date.now()): number | null {
	const a = parseTime(start);
	if (a === null) return null;
	const b = parseTime(end) ?? now;
	return Math.max(0, b - a);
}

/** EUR amounts arrive as exact decimal strings; show small ones with enough digits to be non-zero. */
export function formatEur(value: string | number | null | undefined): string {
	const amount = typeof value === 'number' ? value : Number(value ?? 0);
	if (!Number.isFinite(amount)) return '—';
	if (amount === 0) return '€0.00';
	const abs = Math.abs(amount);
	const digits = abs >= 1 ? 2 : Math.min(8, Math.max(2, 2 - Math.floor(Math.log10(abs))));
	return `€${amount.toFixed(digits)}`;
}

export function formatTime(value: string | null | undefined): string {
	const ms = parseTime(value);
	if (ms === null) return '—';
	return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function formatInt(value: number | null | undefined): string {
	return (value ?? 0).toLocaleString('en');
}

export function asText(value: unknown): string {
	if (value === null || value === undefined) return '';
	return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}
