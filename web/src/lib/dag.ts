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
	/** Steps run top to bottom (see layoutDagDown). */
	down?: boolean;
}

export interface LayoutOptions {
	nodeWidth?: number;
	nodeHeight?: number;
	gapX?: number;
	gapY?: number;
	padding?: number;
	/** A column taller than this wraps into several side by side (a fan-out of 300 reads as a grid). */
	maxRows?: number;
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
	const maxRows = Math.max(1, options.maxRows ?? Infinity);
	const seen = new Set<string>();
	const unique = nodes.filter((n) => !seen.has(n.id) && seen.add(n.id));
	const depths = depthsOf(unique);
	const columns: string[][] = [];
	for (const node of unique) {
		const d = depths.get(node.id) ?? 0;
		(columns[d] ??= []).push(node.id);
	}
	const rowsOf = (column: string[] | undefined) => Math.min(column?.length ?? 0, maxRows);
	const tallest = Math.max(1, ...columns.map(rowsOf));
	const height = padding * 2 + tallest * nodeHeight + (tallest - 1) * gapY;
	const placed: PlacedNode[] = [];
	let x = padding;
	let slots = 0;
	columns.forEach((column, depth) => {
		if (!column) return;
		const rows = rowsOf(column);
		const top = (height - (rows * nodeHeight + (rows - 1) * gapY)) / 2;
		const wraps = Math.ceil(column.length / rows);
		column.forEach((id, index) => {
			const row = index % rows;
			const sub = Math.floor(index / rows);
			placed.push({ id, depth, row: index, x: x + sub * (nodeWidth + gapY), y: top + row * (nodeHeight + gapY) });
		});
		x += wraps * nodeWidth + (wraps - 1) * gapY + gapX;
		slots += 1;
	});
	return {
		nodes: placed,
		edges: edgesOf(unique),
		width: slots === 0 ? padding * 2 + nodeWidth : x - gapX + padding,
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
export function edgePath(from: PlacedNode, to: PlacedNode, width: number, height: number, down = false): string {
	if (down) {
		if (to.y <= from.y) return `M ${from.x + width} ${from.y + height / 2} L ${to.x + width} ${to.y + height / 2}`;
		const x1 = from.x + width / 2;
		const y1 = from.y + height;
		const x2 = to.x + width / 2;
		const mid = (y1 + to.y) / 2;
		return `M ${x1} ${y1} C ${x1} ${mid}, ${x2} ${mid}, ${x2} ${to.y}`;
	}
	const forward = to.x > from.x;
	const x1 = forward ? from.x + width : from.x + width / 2;
	const y1 = forward ? from.y + height / 2 : from.y + height;
	const x2 = forward ? to.x : to.x + width / 2;
	const y2 = forward ? to.y + height / 2 : to.y;
	if (!forward) return `M ${x1} ${y1} L ${x2} ${y2}`;
	const mid = (x1 + x2) / 2;
	return `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`;
}

/**
 * The node an arrow key moves to: Up/Down within the column, Left/Right to the nearest row of the
 * previous or next column. The DAG is one tab stop; arrows move inside it (roving focus).
 */
export function neighbour(nodes: PlacedNode[], id: string, key: string): string | null {
	const here = nodes.find((n) => n.id === id);
	if (!here) return nodes[0]?.id ?? null;
	if (key === 'ArrowUp' || key === 'ArrowDown') {
		const column = nodes.filter((n) => n.depth === here.depth).sort((a, b) => a.row - b.row);
		const at = column.findIndex((n) => n.id === id) + (key === 'ArrowDown' ? 1 : -1);
		return column[at]?.id ?? null;
	}
	if (key === 'ArrowLeft' || key === 'ArrowRight') {
		const step = key === 'ArrowRight' ? 1 : -1;
		const depths = [...new Set(nodes.map((n) => n.depth))].sort((a, b) => a - b);
		const next = depths[depths.indexOf(here.depth) + step];
		if (next === undefined) return null;
		const column = nodes.filter((n) => n.depth === next);
		column.sort((a, b) => Math.abs(a.y - here.y) - Math.abs(b.y - here.y));
		return column[0]?.id ?? null;
	}
	if (key === 'Home') return nodes[0]?.id ?? null;
	if (key === 'End') return nodes[nodes.length - 1]?.id ?? null;
	return null;
}

/**
 * The same graph top to bottom (for narrow screens): steps become rows. Lay it out with the node's
 * width and height swapped, then transpose, so the gaps between steps stay the same.
 */
export function layoutDagDown(nodes: DagInput[], options: LayoutOptions = {}): DagLayout {
	const nodeWidth = options.nodeWidth ?? 160;
	const nodeHeight = options.nodeHeight ?? 52;
	const across = layoutDag(nodes, { ...options, nodeWidth: nodeHeight, nodeHeight: nodeWidth });
	return {
		...across,
		nodes: across.nodes.map((n) => ({ ...n, x: n.y, y: n.x })),
		width: across.height,
		height: across.width,
		nodeWidth,
		nodeHeight,
		down: true
	};
}
