import { describe, expect, it } from 'vitest';
import { edgePath, layoutDag, layoutDagDown, neighbour } from '../../src/lib/dag';
import { groupSiblings, groupStatus, progressOf, progressText, rangeLabel } from '../../src/lib/groups';
import { fitView, panBy, reveal, viewBox, zoomAt } from '../../src/lib/viewport';

const students = (n: number) => Array.from({ length: n }, (_, i) => `student-${String(i).padStart(3, '0')}`);

function fanOut(n: number) {
	const ids = students(n);
	return [
		{ id: 'planner' },
		...ids.map((id) => ({ id, depends_on: ['planner'] })),
		{ id: 'summary', depends_on: ids }
	];
}

describe('grouping parallel siblings', () => {
	it('folds a 100-wide fan-out into one node with redirected edges', () => {
		const { nodes, groups } = groupSiblings(fanOut(100));
		expect(nodes.map((n) => n.id)).toEqual(['planner', 'group:student-000…099', 'summary']);
		const group = groups.get('group:student-000…099');
		expect(group?.members).toHaveLength(100);
		expect(nodes[1].depends_on).toEqual(['planner']);
		expect(nodes[2].depends_on).toEqual(['group:student-000…099']);
		expect(layoutDag(nodes).height).toBeLessThan(200); // one row, not a 7,000 px column
	});

	it('keeps an expanded group and small sibling sets as single nodes', () => {
		const expanded = new Set(['group:student-000…099']);
		expect(groupSiblings(fanOut(100), expanded).nodes).toHaveLength(102);
		expect(groupSiblings(fanOut(5)).nodes).toHaveLength(7);
	});

	it('does not merge siblings with different parents or children', () => {
		const nodes = [
			{ id: 'a' },
			{ id: 'b' },
			...students(6).map((id, i) => ({ id, depends_on: [i % 2 ? 'a' : 'b'] }))
		];
		expect(groupSiblings(nodes).groups.size).toBe(0);
	});

	it('groups the workers of one supervisor', () => {
		const workers = students(8);
		const nodes = [{ id: 'boss', workers }, ...workers.map((id) => ({ id }))];
		const { nodes: out } = groupSiblings(nodes);
		expect(out.map((n) => n.id)).toEqual(['boss', 'group:student-000…007']);
		expect(out[0].workers).toEqual(['group:student-000…007']);
	});

	it('stays fast at the 1,000-node graph limit', () => {
		const started = performance.now();
		const { nodes } = groupSiblings(fanOut(998));
		layoutDag(nodes);
		expect(nodes).toHaveLength(3);
		expect(performance.now() - started).toBeLessThan(2000);
	});
});

describe('labels and progress', () => {
	it('names a range by its shared prefix without splitting numbers', () => {
		expect(rangeLabel(['student-000', 'student-099', 'student-050'])).toBe('student-000…099');
		expect(rangeLabel(['a-1', 'a-20', 'a-3'])).toBe('a-1…20');
		expect(rangeLabel(['x'])).toBe('x');
	});

	it('counts statuses and says them in words', () => {
		const states = { a: { status: 'running' }, b: { status: 'completed' }, c: { status: 'failed' } };
		const p = progressOf(['a', 'b', 'c', 'd'], states);
		expect(p).toMatchObject({ total: 4, running: 1, done: 1, failed: 1, waiting: 1 });
		expect(progressText(p)).toBe('1 running, 1 done, 1 failed, 1 not started');
		expect(groupStatus(p)).toBe('failed');
		expect(groupStatus(progressOf(['a', 'b'], { a: { status: 'running' }, b: { status: 'completed' } }))).toBe('running');
		expect(groupStatus(progressOf(['b'], { b: { status: 'completed' } }))).toBe('completed');
		expect(groupStatus(progressOf(['z'], {}))).toBe('waiting');
	});
});

describe('fit, zoom, pan and keyboard moves', () => {
	it('fits a wide graph into the box and never enlarges a small one', () => {
		const wide = fitView(4000, 400, 1000, 500);
		expect(wide.zoom).toBeCloseTo(0.25);
		expect(viewBox(wide, 1000, 500)).toBe('0 -800 4000 2000');
		expect(fitView(300, 100, 1000, 500).zoom).toBe(1);
	});

	it('zooms around a point and pans in box pixels', () => {
		const v = zoomAt({ x: 0, y: 0, zoom: 1 }, 2, 100, 100);
		expect(v).toEqual({ x: 50, y: 50, zoom: 2 });
		expect(panBy(v, 20, 0).x).toBe(40);
		expect(reveal({ x: 0, y: 0, zoom: 1 }, 100, 100, 150, 10, 20, 20).x).toBe(78);
	});

	it('moves focus by arrows without visiting every node', () => {
		const layout = layoutDag(fanOut(3));
		expect(neighbour(layout.nodes, 'planner', 'ArrowRight')).toBe('student-001');
		expect(neighbour(layout.nodes, 'student-001', 'ArrowDown')).toBe('student-002');
		expect(neighbour(layout.nodes, 'student-002', 'ArrowDown')).toBeNull();
		expect(neighbour(layout.nodes, 'student-000', 'ArrowRight')).toBe('summary');
		expect(neighbour(layout.nodes, 'summary', 'End')).toBe('summary');
	});
});

describe('wrapping tall columns', () => {
	it('lays a long column out as a grid of at most maxRows rows', () => {
		const nodes = fanOut(30);
		const layout = layoutDag(nodes, { nodeWidth: 100, nodeHeight: 40, gapX: 50, gapY: 10, padding: 0, maxRows: 10 });
		const students = layout.nodes.filter((n) => n.id.startsWith('student-'));
		expect(new Set(students.map((n) => n.x)).size).toBe(3);
		expect(new Set(students.map((n) => n.y)).size).toBe(10);
		expect(layout.height).toBe(10 * 40 + 9 * 10);
		const summary = layout.nodes.find((n) => n.id === 'summary')!;
		expect(summary.x).toBeGreaterThan(Math.max(...students.map((n) => n.x)));
		expect(layout.width).toBe(summary.x + 100);
	});
});

describe('top to bottom for phones', () => {
	it('transposes the steps into rows and keeps node sizes', () => {
		const down = layoutDagDown(fanOut(3), { nodeWidth: 100, nodeHeight: 40, gapX: 50, gapY: 10, padding: 0 });
		const at = Object.fromEntries(down.nodes.map((n) => [n.id, n]));
		expect(at.planner.y).toBe(0);
		expect(at['student-000'].y).toBe(90);
		expect(at.summary.y).toBe(180);
		expect(down.height).toBe(220);
		expect(down.nodeWidth).toBe(100);
		expect(edgePath(at.planner, at.summary, 100, 40, true)).toMatch(/^M \d+ 40 C/);
	});
});
