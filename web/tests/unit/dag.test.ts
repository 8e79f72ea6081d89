import { describe, expect, it } from 'vitest';
import { depthsOf, edgesOf, layoutDag, nodesForRun } from '../../src/lib/dag';

const lessonPlan = [
	{ id: 'planner' },
	{ id: 'content', depends_on: ['planner'] },
	{ id: 'activities', depends_on: ['planner'] },
	{ id: 'assessment', depends_on: ['planner'] },
	{ id: 'reviewer', depends_on: ['content', 'activities', 'assessment'] }
];

describe('DAG layout by depth', () => {
	it('puts each node one column after its deepest dependency', () => {
		const depths = depthsOf(lessonPlan);
		expect(Object.fromEntries(depths)).toEqual({ planner: 0, content: 1, activities: 1, assessment: 1, reviewer: 2 });
	});

	it('uses the longest path, not the shortest', () => {
		const depths = depthsOf([{ id: 'a' }, { id: 'b', depends_on: ['a'] }, { id: 'c', depends_on: ['a', 'b'] }]);
		expect(depths.get('c')).toBe(2);
	});

	it('places columns left to right and rows without overlap', () => {
		const layout = layoutDag(lessonPlan, { nodeWidth: 100, nodeHeight: 40, gapX: 50, gapY: 10, padding: 0 });
		expect(layout.columns).toBe(3);
		const at = Object.fromEntries(layout.nodes.map((n) => [n.id, n]));
		expect(at.planner.x).toBe(0);
		expect(at.content.x).toBe(150);
		expect(at.reviewer.x).toBe(300);
		const middle = [at.content.y, at.activities.y, at.assessment.y].sort((a, b) => a - b);
		expect(middle[1] - middle[0]).toBe(50);
		expect(layout.height).toBe(3 * 40 + 2 * 10);
		expect(layout.width).toBe(3 * 100 + 2 * 50);
		// a single node column is centred vertically
		expect(at.planner.y).toBe((layout.height - 40) / 2);
		expect(layout.edges).toHaveLength(6);
	});

	it('draws supervisor -> worker calls and puts workers after their supervisor', () => {
		const nodes = [{ id: 'boss', workers: ['w1', 'w2'] }, { id: 'w1' }, { id: 'w2' }];
		expect(edgesOf(nodes).map((e) => e.kind)).toEqual(['calls', 'calls']);
		expect(depthsOf(nodes).get('w2')).toBe(1);
	});

	it('ignores unknown dependencies and survives cycles', () => {
		expect(edgesOf([{ id: 'a', depends_on: ['ghost', 'a'] }])).toEqual([]);
		const depths = depthsOf([
			{ id: 'a', depends_on: ['c'] },
			{ id: 'b', depends_on: ['a'] },
			{ id: 'c', depends_on: ['b'] }
		]);
		expect(depths.size).toBe(3);
		expect([...depths.values()].every((d) => d >= 0 && d <= 2)).toBe(true);
	});

	it('without a spec, lays the run nodes out in one column; with one, adds unknown run nodes', () => {
		expect(layoutDag(nodesForRun(null, ['x', 'y'])).columns).toBe(1);
		const nodes = nodesForRun(lessonPlan, ['planner', 'extra']);
		expect(nodes.map((n) => n.id)).toEqual([...lessonPlan.map((n) => n.id), 'extra']);
	});

	it('de-duplicates repeated ids', () => {
		expect(layoutDag([{ id: 'a' }, { id: 'a' }]).nodes).toHaveLength(1);
	});
});
