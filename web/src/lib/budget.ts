// Budget gauge maths and the overage-consent amount: where spending sits against a limit.
//
// The quota store's rules (convergio/quotas/_store.py): at `downgradeAt` of the managed-key cap calls
// use a cheaper model; a call that would pass the cap plus any consented overage is refused (throttled).

export type Zone = 'unlimited' | 'ok' | 'downgrade' | 'overage' | 'throttle';

export interface GaugeInput {
	/** EUR spent this month (including reservations still open). */
	spent: number;
	/** EUR limit; null when there is none. */
	limit: number | null;
	/** Fraction of the limit from which calls are downgraded (0.8); null when the limit has no such line. */
	downgradeAt?: number | null;
	/** EUR consented over the limit this month. */
	overage?: number;
}

export interface Gauge {
	zone: Zone;
	/** spent / limit (1 = at the limit); null without a limit. */
	ratio: number | null;
	/** EUR at the right edge of the bar: room past the last line, or the spending if it went further. */
	scale: number;
	/** Percent of the bar's width, 0..100. */
	fill: number;
	downgradeLine: number | null;
	throttleLine: number | null;
	/** Where the consented overage ends (the real stop), when there is consent. */
	overageLine: number | null;
}

/** The bar reaches 10 % past the last line, so the line itself is never hidden at the edge. */
export const HEADROOM = 1.1;

function percent(value: number, scale: number): number {
	return Math.round(Math.min(100, Math.max(0, (value / scale) * 100)) * 10) / 10;
}

function finite(value: number | null | undefined): number {
	return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

export function gauge({ spent, limit, downgradeAt = null, overage = 0 }: GaugeInput): Gauge {
	const used = finite(spent);
	if (limit === null || !Number.isFinite(limit)) {
		return { zone: 'unlimited', ratio: null, scale: used, fill: 0, downgradeLine: null, throttleLine: null, overageLine: null };
	}
	const cap = finite(limit);
	const extra = finite(overage);
	const stop = cap + extra;
	const scale = Math.max(stop * HEADROOM, used) || 1;
	const line = downgradeAt !== null && downgradeAt > 0 && downgradeAt < 1 ? cap * downgradeAt : null;
	let zone: Zone = 'ok';
	if (used >= stop) zone = 'throttle';
	else if (used >= cap) zone = 'overage';
	else if (line !== null && used >= line) zone = 'downgrade';
	return {
		zone,
		ratio: cap > 0 ? used / cap : used > 0 ? Infinity : 0,
		scale,
		fill: percent(used, scale),
		downgradeLine: line === null ? null : percent(line, scale),
		throttleLine: percent(cap, scale),
		overageLine: extra > 0 ? percent(stop, scale) : null
	};
}

export interface Tick {
	at: number;
	label: string;
	/** Near the right edge: the label ends at the line instead of centring on it. */
	end: boolean;
}

/** Short labels under the bar's lines; one too close to the one before is left out (the legend has them all). */
export function ticks(g: Gauge, downgradeAt: number | null, minGap = 12): Tick[] {
	const all: [number | null, string][] = [
		[g.downgradeLine, `${Math.round((downgradeAt ?? 0) * 100)}%`],
		[g.throttleLine, '100%'],
		[g.overageLine, '+consent']
	];
	const kept: Tick[] = [];
	for (const [at, label] of all) {
		if (at === null) continue;
		const last = kept[kept.length - 1];
		if (last && at - last.at < minGap) continue;
		kept.push({ at, label, end: at > 85 });
	}
	return kept;
}

export function formatRatio(ratio: number | null): string {
	if (ratio === null) return '—';
	if (!Number.isFinite(ratio)) return 'over 100 %';
	return `${Math.round(ratio * 100)} %`;
}

const ZONES: Record<Zone, string> = {
	unlimited: 'No limit: spending is not capped.',
	ok: 'Below the limits: calls run as asked.',
	downgrade: 'Past the downgrade line: managed-key calls use a cheaper model of the same family.',
	overage: 'Over the cap, within the overage you consented to.',
	throttle: 'At the limit: new calls are refused until next month or a higher limit.'
};

export function zoneText(zone: Zone): string {
	return ZONES[zone];
}

export const MAX_CONSENT = '999999.99';

/** A consent amount typed by a person ("25", "25,5", "€ 25.50") → the API's form ("25.50"), or why not. */
export function parseAmount(text: string): { amount: string } | { error: string } {
	const cleaned = text.trim().replace(/^€\s*/, '').replace(/\s*(€|eur)$/i, '').replace(',', '.');
	if (!cleaned) return { error: 'Enter an amount in euros, for example 25.00.' };
	const match = /^(\d+)(?:\.(\d{1,2}))?$/.exec(cleaned);
	if (!match) return { error: 'Use a number of euros with at most two decimals, for example 25.00.' };
	const whole = match[1].replace(/^0+(?=\d)/, '');
	if (whole.length > 6) return { error: `The most you can consent to is €${MAX_CONSENT}.` };
	return { amount: `${whole}.${(match[2] ?? '').padEnd(2, '0')}` };
}

export const EVENT_LABELS: Record<string, string> = {
	downgrade: 'Downgrade',
	throttle: 'Throttle',
	consent: 'Consent',
	overrun: 'Provider overrun'
};
