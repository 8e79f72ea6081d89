// Failures in a teacher's words: what happened, and what to do next (issue 23.4).
//
// The API reports errors for developers ("Activity function 'run_agent' failed: ProviderError:
// unavailable: simulated outage ..."). This maps the known causes to a plain sentence and a next
// step, keeping the original text for whoever needs it (shown under "Details").

export interface Explained {
	/** A short, plain sentence: what happened. */
	cause: string;
	/** What the reader can do about it. */
	next: string;
	/** A rejection is a decision, not a failure: show it neutrally. */
	neutral: boolean;
	/** The original text, stripped of the host's wrapping. */
	detail: string;
}

const PROVIDER: Record<string, [string, string]> = {
	auth: ['The AI provider refused the key of this connection.', 'Ask your administrator to check the connection’s key.'],
	rate_limited: ['The AI provider was busy and asked us to slow down.', 'Wait a minute, then retry the failed agents.'],
	context_too_long: ['The text given to the agent was too long for its model.', 'Shorten the input, or ask your administrator for a model with a larger context.'],
	content_filtered: ['The AI provider’s safety filter refused the request or the answer.', 'Rephrase the input and run again.'],
	timeout: ['The AI provider took too long to answer.', 'Retry the failed agents.'],
	unavailable: ['The AI provider was unavailable.', 'Retry the failed agents in a few minutes.'],
	bad_request: ['The AI provider refused the request.', 'Ask your administrator to check the graph and the connection.'],
	bad_response: ['The AI provider answered something the agent could not use.', 'Retry the failed agents.'],
	cancelled: ['The run was cancelled before this agent finished.', 'Run it again if you still need the result.']
};

/** The error text without "Orchestrator function 'x' failed:" / "Activity function 'y' failed:" wrappers. */
export function stripHost(text: string): string {
	let out = text.trim();
	for (;;) {
		const next = out.replace(/^(Orchestrator|Activity) function '[^']*' failed:\s*/i, '').replace(/^[A-Za-z]+Error:\s*/, '');
		if (next === out) return out;
		out = next;
	}
}

export function explain(text: string | null | undefined, status = 'failed'): Explained | null {
	if (!text && status === 'completed') return null;
	const detail = stripHost(text ?? '');
	const lower = detail.toLowerCase();
	const plain = (cause: string, next: string, neutral = false): Explained => ({ cause, next, neutral, detail });
	// The last "rejected[ by who]:" (a run-level message repeats it: "ended rejected: rejected by ada: why").
	const rejected = detail.match(/.*rejected(?: by ([^:]{1,64}))?:\s*(.*)$/is);
	if (status === 'rejected' || rejected) {
		const by = rejected?.[1]?.trim();
		const comment = rejected?.[2]?.trim();
		const who = by ? `Rejected by ${by}` : 'Rejected';
		const said = comment && comment !== 'no reason given' ? `${who}: “${comment}”.` : `${who}, with no comment.`;
		return plain(said, 'Run again after changing what was asked for.', true);
	}
	const code = lower.match(/^(?:agent '[^']*' ended \w+: )?([a-z_]+):/)?.[1] ?? '';
	if (PROVIDER[code]) return plain(...PROVIDER[code]);
	for (const [known, words] of Object.entries(PROVIDER)) {
		if (lower.includes(`${known}:`)) return plain(...words);
	}
	if (status === 'budget_exceeded' || lower.includes('budget')) {
		return plain('The spending limit was reached, so the agent stopped.', 'Ask your administrator to raise the budget, then retry the failed agents.');
	}
	if (status === 'tool_limit') return plain('The agent asked for more tool calls than it is allowed.', 'Ask your administrator to raise the agent’s tool limit.');
	if (status === 'timed_out' || /no '[^']+' event within/.test(detail)) {
		return plain(/event within/.test(detail) ? 'Nobody answered in time, so the wait ended.' : 'The agent ran out of time.', 'Run again, and answer the request before its deadline.');
	}
	// Before "skipped": a branch the router did not choose is routed away, not a failure upstream.
	const router = detail.match(/not chosen by router '([^']*)'/)?.[1];
	if (router) return plain(`Skipped: router ${router} sent the request to another agent.`, 'Nothing to do: this is how the run was routed.', true);
	if (lower.includes('routed away')) return plain('Skipped: the router chose another path.', 'Nothing to do: this is how the run was routed.', true);
	if (lower.includes('removed by a re-plan')) return plain('Skipped: the planner took this agent out of the plan.', 'Nothing to do: the plan changed after a failure.', true);
	if (status === 'skipped' || lower.includes('dependency did not complete')) {
		return plain('Skipped: an agent it needs did not finish.', 'Fix the earlier failure; retrying the failed agents runs this one too.', true);
	}
	if (status === 'cancelled' || lower.includes('cancel')) return plain('The run was cancelled.', 'Run it again if you still need the result.', true);
	if (!detail) return plain('The agent did not finish.', 'Retry the failed agents.');
	return plain('Something went wrong in this agent.', 'Retry the failed agents; if it happens again, show the details to your administrator.');
}
