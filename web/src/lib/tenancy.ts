// The routes of ADR 0022 (claim, who am I, tenants, members, keys, budget, sharing) on top of the Api client.
import { Api } from './api';
import type {
	BudgetIn,
	BudgetView,
	KeyCreated,
	KeyInfo,
	Me,
	Member,
	MemberCreated,
	Role,
	SetupState,
	TenantCreated,
	TenantRef
} from './types';

const seg = encodeURIComponent;

export class Tenancy {
	constructor(private readonly api: Api) {}

	/** Anonymous: whether the installation has been claimed. */
	setup(): Promise<SetupState> {
		return this.api.request('GET', '/setup');
	}

	/** Anonymous: the one-time setup code makes the first tenant and its first admin; the key is in this answer only. */
	claim(code: string, tenantName: string, adminName: string): Promise<TenantCreated> {
		return this.api.request('POST', '/setup/claim', { code, tenant_name: tenantName, admin_name: adminName });
	}

	me(signal?: AbortSignal): Promise<Me> {
		return this.api.request('GET', '/me', undefined, signal);
	}

	async listTenants(): Promise<TenantRef[]> {
		const body = await this.api.request<{ tenants: TenantRef[] } | TenantRef[]>('GET', '/tenants');
		return Array.isArray(body) ? body : (body?.tenants ?? []);
	}

	createTenant(name: string, adminName: string): Promise<TenantCreated> {
		return this.api.request('POST', '/tenants', { name, admin_name: adminName });
	}

	async listMembers(): Promise<Member[]> {
		const body = await this.api.request<{ members: Member[] } | Member[]>('GET', '/tenants/me/members');
		return Array.isArray(body) ? body : (body?.members ?? []);
	}

	inviteMember(name: string, role: Role, principalId?: string): Promise<MemberCreated> {
		const body: Record<string, string> = { name, role };
		if (principalId) body.principal_id = principalId;
		return this.api.request('POST', '/tenants/me/members', body);
	}

	removeMember(id: string): Promise<unknown> {
		return this.api.request('DELETE', `/tenants/me/members/${seg(id)}`);
	}

	async listKeys(): Promise<KeyInfo[]> {
		const body = await this.api.request<{ keys: KeyInfo[] } | KeyInfo[]>('GET', '/tenants/me/keys');
		return Array.isArray(body) ? body : (body?.keys ?? []);
	}

	issueKey(label: string, role: Role): Promise<KeyCreated> {
		return this.api.request('POST', '/tenants/me/keys', { label, role });
	}

	revokeKey(id: string): Promise<unknown> {
		return this.api.request('DELETE', `/tenants/me/keys/${seg(id)}`);
	}

	putBudget(budget: BudgetIn): Promise<BudgetView | unknown> {
		return this.api.request('PUT', '/tenants/me/budget', budget);
	}

	shareGraph(name: string): Promise<unknown> {
		return this.api.request('PUT', `/graphs/${seg(name)}/share`);
	}

	unshareGraph(name: string): Promise<unknown> {
		return this.api.request('DELETE', `/graphs/${seg(name)}/share`);
	}
}
