// Node and run statuses: a colour (contrast-checked against white text or dark text) and a label.
export interface StatusStyle {
	fill: string;
	stroke: string;
	text: string;
	label: string;
}

const STYLES: Record<string, StatusStyle> = {
	waiting: { fill: '#f1f5f9', stroke: '#64748b', text: '#1e293b', label: 'Waiting' },
	pending: { fill: '#f1f5f9', stroke: '#64748b', text: '#1e293b', label: 'Pending' },
	awaiting_input: { fill: '#fef3c7', stroke: '#b45309', text: '#78350f', label: 'Awaiting input' },
	// Asked for, waiting for a worker (the call has not begun): not yet running.
	queued: { fill: '#f8fafc', stroke: '#1d4ed8', text: '#1e3a8a', label: 'Queued' },
	running: { fill: '#dbeafe', stroke: '#1d4ed8', text: '#1e3a8a', label: 'Running' },
	retrying: { fill: '#ffedd5', stroke: '#c2410c', text: '#7c2d12', label: 'Retrying' },
	completed: { fill: '#dcfce7', stroke: '#15803d', text: '#14532d', label: 'Completed' },
	succeeded: { fill: '#dcfce7', stroke: '#15803d', text: '#14532d', label: 'Succeeded' },
	done: { fill: '#dcfce7', stroke: '#15803d', text: '#14532d', label: 'Done' },
	failed: { fill: '#fee2e2', stroke: '#b91c1c', text: '#7f1d1d', label: 'Failed' },
	// Only a cancel terminates a run here: say what the person did.
	terminated: { fill: '#e5e7eb', stroke: '#374151', text: '#111827', label: 'Cancelled' },
	skipped: { fill: '#f3f4f6', stroke: '#6b7280', text: '#374151', label: 'Skipped' },
	cancelled: { fill: '#e5e7eb', stroke: '#374151', text: '#111827', label: 'Cancelled' },
	// A person said no: a decision, not a failure, so it is not drawn red.
	rejected: { fill: '#f1f5f9', stroke: '#475569', text: '#1e293b', label: 'Rejected' }
};

const FAILURE = { fill: '#fee2e2', stroke: '#b91c1c', text: '#7f1d1d' };

export function statusStyle(status: string | null | undefined): StatusStyle {
	const key = (status ?? 'waiting').toLowerCase();
	if (STYLES[key]) return STYLES[key];
	const label = key.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
	// Other terminal outcomes (budget_exceeded, timed_out, tool_limit, rejected...) read as failures.
	return { ...FAILURE, label };
}
