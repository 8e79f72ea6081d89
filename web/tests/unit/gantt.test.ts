import { describe, expect, it } from 'vitest';
import { ganttScale, niceStep, peakParallelism } from '../../src/lib/gantt';

const t = (ms: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + ms).toISOString();
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

describe('Gantt scale', () => {
	const nodes = [
		{ id: 'planner', status: 'completed', started_at: t(0), finished_at: t(400) },
		{ id: 'content', status: 'completed', started_at: t(400), finished_at: t(1300) },
		{ id: 'activities', status: 'completed', started_at: t(400), finished_at: t(1000) },
		{ id: 'assessment', status: 'completed', started_at: t(400), finished_at: t(700) },
		{ id: 'reviewer', status: 'waiting', started_at: null, finished_at: null }
	];

	it('maps start/finish to fractions of the span from the first start', () => {
		const scale = ganttScale(nodes, T0 + 1300);
		expect(scale.origin).toBe(T0);
		expect(scale.span).toBe(1300);
		const planner = scale.bars.find((b) => b.id === 'planner')!;
		expect(planner.offset).toBe(0);
		expect(planner.width).toBeCloseTo(400 / 1300);
		const content = scale.bars.find((b) => b.id === 'content')!;
		expect(content.offset).toBeCloseTo(400 / 1300);
		expect(content.offset + content.width).toBeCloseTo(1);
		expect(scale.waiting).toEqual(['reviewer']);
	});

	it('shows parallelism: three specialists at once', () => {
		expect(ganttScale(nodes, T0 + 1300).peak).toBe(3);
		expect(peakParallelism([{ start: 0, end: 10 }, { start: 10, end: 20 }])).toBe(1);
		expect(peakParallelism([])).toBe(0);
	});

	it('runs open bars to now and orders bars by start', () => {
		const scale = ganttScale([{ id: 'b', status: 'running', started_at: t(500), finished_at: null }, { id: 'a', status: 'completed', started_at: t(0), finished_at: t(100) }], T0 + 2000);
		expect(scale.bars.map((b) => b.id)).toEqual(['a', 'b']);
		expect(scale.bars[1].open).toBe(true);
		expect(scale.bars[1].end).toBe(2000);
		expect(scale.span).toBe(2000);
	});

	it('starts at the run creation when it is earlier, and gives instant steps a visible width', () => {
		const scale = ganttScale([{ id: 'a', status: 'completed', started_at: t(1000), finished_at: t(1000) }], T0 + 2000, 0.01, t(0));
		expect(scale.origin).toBe(T0);
		expect(scale.span).toBe(1000);
		expect(scale.bars[0].offset).toBeCloseTo(0.99);
		expect(scale.bars[0].width).toBeCloseTo(0.01);
	});

	it('has no bars and a sane span when nothing started', () => {
		const scale = ganttScale([{ id: 'a', status: 'waiting', started_at: null, finished_at: null }], T0);
		expect(scale.bars).toEqual([]);
		expect(scale.span).toBeGreaterThanOrEqual(1);
	});

	it('picks 1-2-5 tick steps and labels them', () => {
		expect(niceStep(1300, 6)).toBe(500);
		expect(niceStep(10_000, 5)).toBe(2000);
		expect(niceStep(1, 1)).toBe(1);
		expect(niceStep(0)).toBeCloseTo(0.2);
		const ticks = ganttScale(nodes, T0 + 1300).ticks;
		expect(ticks[0]).toMatchObject({ at: 0, offset: 0 });
		expect(ticks.map((x) => x.label)).toEqual(['0.0 s', '0.5 s', '1.0 s']);
		expect(ticks.every((x) => x.offset <= 1)).toBe(true);
	});
});
