// Lay a graph of agents out as a DAG: one column per dependency depth, left to right.

export interface DagInput {
	id: string;
	depends_on?: string[];
	workers?: string[];
}

export interface DagEdge {
	from: string;
	to: string;
	kind: 'depends' | 'calls';
}

export interface PlacedNode {
	id: string;
	depth: number;
	row: number;
	x: number;
	y: number;
}

export interface DagLayout {
	nodes: PlacedNode[];
	edges: DagEdge[];
	width: number;
	height: number;
	columns: number;
	nodeWidth: number;
	nodeHeight: number;
}

export interface LayoutOptions {
	nodeWidth?: number;
	nodeHeight?: number;
	gapX?: number;
	gapY?: number;
	padding?: number;
}

/** Every edge of the graph: depends_on (dep -> node) and supervisor -> worker calls. Unknown ids are dropped. */
export function edgesOf(nodes: DagInput[]): DagEdge[] {
	const known = new Set(nodes.map((n) => n.id));
	const edges: DagEdge[] = [];
	for (const node of nodes) {
		for (const dep of node.depends_on ?? []) {
			if (known.has(dep) && dep !== node.id) edges.push({ from: dep, to: node.id, kind: 'depends' });
		}
		for (const worker of node.workers ?? []) {
			if (known.has(worker) && worker !== node.id) edges.push({ from: node.id, to: worker, kind: 'calls' });
		}
	}
	return edges;
}

/**
 * The depth of each node: 0 without parents, else 1 + the deepest parent (longest path).
 * A cycle (the API refuses them, but be safe) is cut where it closes, so this always ends.
 */
export function depthsOf(nodes: DagInput[]): Map<string, number> {
	const parents = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
	for (const edge of edgesOf(nodes)) parents.get(edge.to)?.push(edge.from);
	const depth = new Map<string, number>();
	const visiting = new Set<string>();

	const visit = (id: string): number => {
		const done = depth.get(id);
		if (done !== undefined) return done;
		if (visiting.has(id)) return -1; // closes a cycle: ignore this edge
		visiting.add(id);
		let d = 0;
		for (const parent of parents.get(id) ?? []) d = Math.max(d, visit(parent) + 1);
		visiting.delete(id);
		depth.set(id, d);
		return d;
	};
	for (const node of nodes) visit(node.id);
	return depth;
}

export function layoutDag(nodes: DagInput[], options: LayoutOptions = {}): DagLayout {
	const nodeWidth = options.nodeWidth ?? 160;
	const nodeHeight = options.nodeHeight ?? 52;
	const gapX = options.gapX ?? 56;
	const gapY = options.gapY ?? 20;
	const padding = options.padding ?? 12;
	const unique = nodes.filter((n, i) => nodes.findIndex((m) => m.id === n.id) === i);
	const depths = depthsOf(unique);
	const columns: string[][] = [];
	for (const node of unique) {
		const d = depths.get(node.id) ?? 0;
		(columns[d] ??= []).push(node.id);
	}
	const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
	const height = padding * 2 + tallest * nodeHeight + (tallest - 1) * gapY;
	const placed: PlacedNode[] = [];
	columns.forEach((column, depth) => {
		if (!column) return;
		const columnHeight = column.length * nodeHeight + (column.length - 1) * gapY;
		const top = (height - columnHeight) / 2;
		column.forEach((id, row) => {
			placed.push({ id, depth, row, x: padding + depth * (nodeWidth + gapX), y: top + row * (nodeHeight + gapY) });
		});
	});
	const count = Math.max(1, columns.length);
	return {
		nodes: placed,
		edges: edgesOf(unique),
		width: padding * 2 + count * nodeWidth + (count - 1) * gapX,
		height,
		columns: columns.length,
		nodeWidth,
		nodeHeight
	};
}

/**
 * The nodes to draw for a run: the graph spec's agents when known (with their edges), then any
 * node the run reports that the spec does not name; without a spec, the run's nodes in one row.
 */
export function nodesForRun(specAgents: DagInput[] | null, runNodeIds: string[]): DagInput[] {
	if (!specAgents || specAgents.length === 0) {
		return runNodeIds.map((id) => ({ id }));
	}
	const seen = new Set(specAgents.map((a) => a.id));
	return [...specAgents, ...runNodeIds.filter((id) => !seen.has(id)).map((id) => ({ id }))];
}

/** Cubic path from the right edge of one node to the left edge of another. */
export function edgePath(from: PlacedNode, to: PlacedNode, width: number, height: number): string {
	const forward = to.x > from.x;
	const x1 = forward ? from.x + width : from.x + width / 2;
	const y1 = forward ? from.y + height / 2 : from.y + height;
	const x2 = forward ? to.x : to.x + width / 2;
	const y2 = forward ? to.y + height / 2 : to.y;
	if (!forward) return `M ${x1} ${y1} L ${x2} ${y2}`;
	const mid = (x1 + x2) / 2;
	return `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`;
}
