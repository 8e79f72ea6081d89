import { describe, expect, it } from 'vitest';
import { explain, stripHost } from '../../src/lib/explain';

describe('failures in plain words', () => {
	it('strips the host wrappers', () => {
		expect(stripHost("Orchestrator function 'agent_graph' failed: Activity function 'run_agent' failed: ProviderError: unavailable: simulated outage")).toBe(
			'unavailable: simulated outage'
		);
	});

	it('says what a provider outage means and what to do', () => {
		const e = explain("Activity function 'run_agent' failed: ProviderError: unavailable: simulated outage: attempt 1 fails");
		expect(e?.cause).toBe('The AI provider was unavailable.');
		expect(e?.next).toMatch(/Retry the failed agents/);
		expect(e?.neutral).toBe(false);
		expect(e?.detail).toBe('unavailable: simulated outage: attempt 1 fails');
	});

	it('finds the cause inside a run-level message', () => {
		expect(explain("agent 'check' ended failed: auth: the key was refused")?.cause).toMatch(/refused the key/);
	});

	it('shows a rejection neutrally with its comment', () => {
		const e = explain('rejected: too short', 'rejected');
		expect(e).toMatchObject({ cause: 'Rejected: “too short”.', neutral: true });
	});

	it('explains skipped, timed out and budget stops', () => {
		expect(explain('a dependency did not complete', 'skipped')?.neutral).toBe(true);
		expect(explain("no 'approve' event within 60 s", 'timed_out')?.cause).toMatch(/Nobody answered in time/);
		expect(explain('over the run budget', 'budget_exceeded')?.next).toMatch(/raise the budget/);
		expect(explain(null, 'completed')).toBeNull();
	});
});

describe('a run-level rejection', () => {
	it('takes the comment after the last "rejected:"', () => {
		expect(explain("agent 'publish' ended rejected: rejected: too short")?.cause).toBe('Rejected: “too short”.');
	});
});

describe('who rejected', () => {
	it('names the person who said no', () => {
		expect(explain("agent 'publish' ended rejected: rejected by ada: add the date")?.cause).toBe('Rejected by ada: “add the date”.');
		expect(explain('rejected by teacher: no reason given', 'rejected')?.cause).toBe('Rejected by teacher, with no comment.');
	});
});
