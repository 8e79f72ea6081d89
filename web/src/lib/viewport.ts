// Fit, zoom and pan for the DAG: the graph is drawn in its own units and shown through a viewBox.

export interface View {
	x: number;
	y: number;
	zoom: number;
}

export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 2;

function clamp(value: number, low: number, high: number): number {
	return Math.min(high, Math.max(low, value));
}

/**
 * The view that shows the whole graph in a `viewW` × `viewH` box, centred, never enlarged past 1:1
 * (a three-node graph stays its natural size) nor shrunk below `MIN_ZOOM`.
 */
export function fitView(graphW: number, graphH: number, viewW: number, viewH: number): View {
	const zoom = clamp(Math.min(viewW / Math.max(1, graphW), viewH / Math.max(1, graphH), 1), MIN_ZOOM, MAX_ZOOM);
	return { zoom, x: (graphW - viewW / zoom) / 2, y: (graphH - viewH / zoom) / 2 };
}

/** Zoom by `factor` keeping the point at (`cx`, `cy`) of the box (in box pixels) still. */
export function zoomAt(view: View, factor: number, cx: number, cy: number): View {
	const zoom = clamp(view.zoom * factor, MIN_ZOOM, MAX_ZOOM);
	const gx = view.x + cx / view.zoom;
	const gy = view.y + cy / view.zoom;
	return { zoom, x: gx - cx / zoom, y: gy - cy / zoom };
}

/** Move by (`dx`, `dy`) box pixels. */
export function panBy(view: View, dx: number, dy: number): View {
	return { ...view, x: view.x - dx / view.zoom, y: view.y - dy / view.zoom };
}

/** The smallest move that brings a graph rectangle into the box (for keyboard focus), or the view. */
export function reveal(view: View, viewW: number, viewH: number, rx: number, ry: number, rw: number, rh: number): View {
	const w = viewW / view.zoom;
	const h = viewH / view.zoom;
	let { x, y } = view;
	if (rx < x) x = rx - 8;
	else if (rx + rw > x + w) x = rx + rw - w + 8;
	if (ry < y) y = ry - 8;
	else if (ry + rh > y + h) y = ry + rh - h + 8;
	return { ...view, x, y };
}

export function viewBox(view: View, viewW: number, viewH: number): string {
	return `${view.x} ${view.y} ${viewW / view.zoom} ${viewH / view.zoom}`;
}
