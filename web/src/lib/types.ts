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
