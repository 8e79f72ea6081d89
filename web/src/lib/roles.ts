// What each role may do in the console (ADR 0022), from GET /me: the links it sees, the pages it may open,
// and a 403 said in plain words. The API refuses what a role may not do anyway; this only hides it.
import type { Me, Role } from './types';

/** Something the console may show or hide. `tenants` is creating tenants: admins of the home tenant only. */
export type Capability = 'manage' | 'start' | 'readAll' | 'readOwn' | 'respond' | 'cancel' | 'usage' | 'share' | 'tenants';

const ROLE_CAPABILITIES: Record<Role, Capability[]> = {
	admin: ['manage', 'start', 'readAll', 'readOwn', 'respond', 'cancel', 'usage', 'share'],
	teacher: ['start', 'readAll', 'readOwn', 'respond', 'cancel', 'usage', 'share'],
	student: ['start', 'readOwn']
};

// The API's permission names (convergio/tenants/_roles.py: Permission), by value and by name.
const PERMISSIONS: Record<string, Capability> = {
	'manage the tenant': 'manage',
	admin: 'manage',
	'start runs': 'start',
	start_runs: 'start',
	"read the tenant's runs": 'readAll',
	read_runs: 'readAll',
	'read runs': 'readOwn',
	read_own_runs: 'readOwn',
	"answer a run's human input": 'respond',
	respond: 'respond',
	'cancel runs': 'cancel',
	cancel: 'cancel',
	"read the tenant's usage": 'usage',
	read_usage: 'usage',
	'share graphs with students': 'share',
	share_graphs: 'share'
};

/** What a capability lets one do, to finish "Your role (teacher) cannot …". */
export const ACTIONS: Record<Capability, string> = {
	manage: 'manage the tenant (connections, budgets, members and keys)',
	start: 'start runs',
	readAll: "read the tenant's runs",
	readOwn: 'read runs',
	respond: "answer a run's human input",
	cancel: 'cancel runs',
	usage: "read the tenant's usage",
	share: 'share graphs with students',
	tenants: 'create tenants (only admins of the home tenant may)'
};

export function isRole(value: unknown): value is Role {
	return value === 'admin' || value === 'teacher' || value === 'student';
}

/** The capabilities of whoever /me describes; none before it has answered. */
export function capabilities(me: Me | null | undefined): Set<Capability> {
	const caps = new Set<Capability>();
	if (!me) return caps;
	for (const p of me.permissions ?? []) {
		const cap = PERMISSIONS[String(p).trim().toLowerCase()];
		if (cap) caps.add(cap);
	}
	// No permission the console knows: the role's fixed table (ADR 0022) decides.
	if (caps.size === 0 && isRole(me.role)) for (const cap of ROLE_CAPABILITIES[me.role]) caps.add(cap);
	if (caps.has('manage') && me.home) caps.add('tenants');
	return caps;
}

export function can(me: Me | null | undefined, capability: Capability): boolean {
	return capabilities(me).has(capability);
}

export interface NavLink {
	href: string;
	label: string;
	need: Capability;
}

/** The main navigation and what each page needs; the layout shows only those the caller may use. */
export const NAV: NavLink[] = [
	{ href: '/runs', label: 'Runs', need: 'readOwn' },
	{ href: '/start', label: 'Start a run', need: 'start' },
	{ href: '/connections', label: 'Keys & connections', need: 'manage' },
	{ href: '/usage', label: 'Usage', need: 'usage' },
	{ href: '/budgets', label: 'Budgets', need: 'manage' },
	{ href: '/admin', label: 'People & access', need: 'manage' }
];

/** The pages under People & access (their own navigation, in admin/+layout.svelte). */
export const ADMIN_NAV: NavLink[] = [
	{ href: '/admin/members', label: 'Members', need: 'manage' },
	{ href: '/admin/keys', label: 'API keys', need: 'manage' },
	{ href: '/admin/tenants', label: 'Tenants', need: 'tenants' }
];

const PAGES: NavLink[] = [...NAV, ...ADMIN_NAV];

/** The links this caller sees; a student's runs are only their own, and the link says so. */
export function navFor(me: Me | null | undefined, links: NavLink[] = NAV): NavLink[] {
	const caps = capabilities(me);
	return links
		.filter((link) => caps.has(link.need))
		.map((link) => (link.href === '/runs' && !caps.has('readAll') ? { ...link, label: 'My runs' } : link));
}

/** The capability a page needs, or null for pages anyone signed in may open. */
export function pageNeed(path: string, links: NavLink[] = PAGES): Capability | null {
	const clean = path.replace(/\/+$/, '') || '/';
	let best: NavLink | null = null;
	for (const link of links) {
		if ((clean === link.href || clean.startsWith(`${link.href}/`)) && (!best || link.href.length > best.href.length)) best = link;
	}
	if (!best) return null;
	// A run's own page: a student may open theirs (the API answers 404 for anyone else's).
	return best.href === '/runs' ? 'readOwn' : best.need;
}

export function forbiddenText(role: string | null | undefined, action: string): string {
	return role ? `Your role (${role}) cannot ${action}.` : `Your role cannot ${action}.`;
}

/** The API's 403 message ("the teacher role may not manage the tenant") in the console's words, or null. */
export function roleMessage(message: string): string | null {
	const found = /^\s*the (\w+) role may not (.+?)\.?\s*$/i.exec(message);
	return found ? forbiddenText(found[1].toLowerCase(), found[2]) : null;
}
