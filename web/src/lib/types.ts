// The JSON shapes of /api/v1 (convergio/api/_models.py).
export type RunStatus = 'Pending' | 'Running' | 'Completed' | 'Failed' | 'Terminated';
export const RUN_STATUSES: RunStatus[] = ['Pending', 'Running', 'Completed', 'Failed', 'Terminated'];
export const FINAL_STATUSES: RunStatus[] = ['Completed', 'Failed', 'Terminated'];

export interface Usage {
	prompt_tokens: number;
	completion_tokens: number;
	total_tokens: number;
	tool_calls: number;
}

export interface NodeView {
	status: string;
	attempts: number;
	calls: number;
	started_at: string | null;
	finished_at: string | null;
	usage: Usage;
	cost_eur: string;
	unpriced_tokens?: number; // tokens of models with no price: not in cost_eur
	error: string | null;
	reused?: boolean; // kept from the run this one retries: not run, not billed again
}

export interface RunView {
	id: string;
	graph: string;
	status: RunStatus;
	created_at: string | null;
	last_updated_at: string | null;
	nodes: Record<string, NodeView>;
	output: unknown;
	outputs: Record<string, unknown>;
	usage: Usage;
	cost_eur: string;
	unpriced_tokens?: number; // tokens of models with no price: not in cost_eur
	error: string | null;
	cancelled_by?: string | null; // who cancelled it (member id or role)
	cancel_reason?: string | null; // their reason: caller text, shown as text only
}

export interface RunSummary {
	id: string;
	graph: string;
	status: RunStatus;
	created_at: string | null;
	last_updated_at: string | null;
	usage: Usage;
	cost_eur: string;
}

export interface RunList {
	runs: RunSummary[];
	next_offset: number | null;
}

export interface RunCreated {
	id: string;
	statusQueryGetUri: string;
}

export type JsonSchema = {
	type?: string | string[];
	properties?: Record<string, JsonSchema>;
	required?: string[];
	items?: JsonSchema;
	default?: unknown;
	description?: string;
	title?: string;
	enum?: unknown[];
	minimum?: number;
	maximum?: number;
	minLength?: number;
	maxLength?: number;
};

export interface GraphInfo {
	name: string;
	description: string;
	agents: number;
	input_schema: JsonSchema | null;
}

export interface AgentSpec {
	id: string;
	kind?: string;
	description?: string;
	provider?: string;
	depends_on?: string[];
	workers?: string[];
	await_event?: { name: string; timeout_seconds?: number } | null;
}

export interface GraphSpec {
	name: string;
	description?: string;
	agents: AgentSpec[];
	output?: string | null;
	budget?: Record<string, number | null>;
	input_schema?: JsonSchema | null;
}

export interface ConnectionView {
	name: string;
	kind: string;
	endpoint: string | null;
	deployment: string | null;
	api_version: string | null;
	model: string | null;
	key: { fingerprint: string } | null;
	updated_at: string;
}

export interface ConnectionIn {
	kind: string;
	endpoint?: string;
	deployment?: string;
	api_version?: string;
	model?: string;
	key?: string;
}

export interface UsageRow {
	[key: string]: unknown;
	quantity: Record<string, number | string>;
	cost: string;
	count: number;
	unpriced_tokens?: number;
}

export interface UsageReport {
	group_by: string[];
	from: string | null;
	to: string | null;
	currency: string;
	rows: UsageRow[];
	total_eur: string;
	unpriced_tokens?: number;
}

export interface QuotaEvent {
	at: string;
	kind: string;
	detail: string;
}

/** GET /tenants/me/budget: amounts are EUR decimal strings; spent includes open reservations. */
export interface BudgetView {
	month: string;
	monthly_eur: string | null;
	spent_eur: string;
	managed_enabled: boolean;
	managed_cap_eur: string;
	managed_spent_eur: string;
	overage_consent_eur: string;
	downgrade_at: string;
	events: QuotaEvent[];
}

// Roles, members, keys and the claim (ADR 0022).
export type Role = 'admin' | 'teacher' | 'student';
export const ROLES: Role[] = ['admin', 'teacher', 'student'];

export interface TenantRef {
	id: string;
	name: string;
}

export interface Member {
	id: string;
	name: string;
	role: Role;
	principal_id?: string | null;
	created_at?: string | null;
}

/** GET /me: who this credential acts as, and what it may do. */
export interface Me {
	tenant: TenantRef;
	role: Role;
	subject: string;
	member: Member | string | null;
	home: boolean;
	permissions: string[];
}

/** An API key as an admin sees it: never the key itself. */
export interface KeyInfo {
	id: string;
	label: string;
	role: Role;
	member: string;
	issued_at: string;
	revoked_at: string | null;
}

export interface SetupState {
	claimed: boolean;
}

/** POST /setup/claim and POST /tenants: the new tenant, its first admin, and that admin's key (shown once). */
export interface TenantCreated {
	tenant: TenantRef;
	member: Member;
	key: string;
}

export interface MemberCreated {
	member: Member;
	key?: string;
}

export interface KeyCreated extends Partial<KeyInfo> {
	id: string;
	key: string;
}

export interface BudgetIn {
	monthly_eur: string | null;
	managed_enabled: boolean;
	managed_cap_eur: string;
}

// Routing and re-plans in the run view (issue 23.5): `routes` and `replans` of GET /runs/{id}.
export interface RouteDecision {
	chosen: string[];
	scores: Record<string, number>; // the best candidates' scores, best first
	fallback?: boolean; // no candidate reached the threshold: the route's fallback was taken
}

export interface Replan {
	node: string; // the agent that failed for good
	status?: string;
	error?: string | null;
	at?: string;
	action: string; // replace, reroute, stop, or rejected (the planner's answer was not used)
	reason?: string;
	changed?: string[];
	removed?: string[];
}

export interface RunView {
	routes?: Record<string, RouteDecision>;
	replans?: Replan[];
}

/** What the ledger billed for one call, or for all of an agent's calls. */
export interface Billed {
	cost_eur: string;
	tokens: number;
	unpriced_tokens: number;
	tool_calls: number;
	estimated: boolean;
	provider: string | null;
	model: string | null;
	key_mode: string | null;
	at: string | null;
}

/** One call of an agent (GET /runs/{id}/agents/{node}); `prompt` only with ?prompt=true. */
export interface AgentAttempt {
	step: number;
	attempt: number | null;
	call: string; // run_agent, route_request, a2a_send, a2a_poll
	status: string; // completed, failed, delegated, budget_exceeded, tool_limit, asked (no answer yet), unanswered (billed, answer never seen)
	asked_at: string | null;
	answered_at: string | null;
	started_at: string | null;
	connection: string | null;
	provider: string | null;
	model: string | null;
	usage: Usage | null;
	error: string | null;
	tools: { name: string; arguments: unknown; result: string | null }[] | null;
	delegated: { worker: string; task: string }[];
	billed: Billed | null;
	scores?: Record<string, number> | null;
	chosen?: string[] | null;
	prompt?: { input?: unknown; instructions: string | null; text: string | null; error: string | null };
}

export interface AgentDetail {
	run_id: string;
	node: string;
	attempts: AgentAttempt[];
	billed: Billed;
}
