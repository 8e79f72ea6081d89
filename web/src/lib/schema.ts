// A form from a graph's input_schema (JSON Schema, object at the top), and the run input from its values.
import type { JsonSchema } from './types';

export type FieldKind = 'string' | 'integer' | 'number' | 'boolean' | 'string-list' | 'enum' | 'json';

export interface FormField {
	name: string;
	label: string;
	kind: FieldKind;
	required: boolean;
	description?: string;
	default?: unknown;
	options?: string[];
	minimum?: number;
	maximum?: number;
	minLength?: number;
	maxLength?: number;
}

export type FormValues = Record<string, string | boolean | number | null | undefined>;

function typeOf(schema: JsonSchema): string | undefined {
	const t = schema.type;
	if (Array.isArray(t)) return t.find((x) => x !== 'null');
	return t;
}

export function labelFor(name: string, schema: JsonSchema): string {
	if (schema.title) return schema.title;
	const words = name.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim();
	return words.charAt(0).toUpperCase() + words.slice(1);
}

export function fieldFor(name: string, schema: JsonSchema, required: boolean): FormField {
	const base = {
		name,
		label: labelFor(name, schema),
		required,
		description: schema.description,
		default: schema.default
	};
	const type = typeOf(schema);
	if (Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === 'string')) {
		return { ...base, kind: 'enum', options: schema.enum as string[] };
	}
	switch (type) {
		case 'string':
			return { ...base, kind: 'string', minLength: schema.minLength, maxLength: schema.maxLength };
		case 'integer':
		case 'number':
			return { ...base, kind: type, minimum: schema.minimum, maximum: schema.maximum };
		case 'boolean':
			return { ...base, kind: 'boolean' };
		case 'array':
			if (!schema.items || typeOf(schema.items) === 'string') return { ...base, kind: 'string-list' };
			return { ...base, kind: 'json' };
		default:
			return { ...base, kind: 'json' };
	}
}

/** The fields of an object schema, required ones first (each group in the schema's order). */
export function fieldsFromSchema(schema: JsonSchema | null | undefined): FormField[] {
	if (!schema || typeof schema !== 'object' || !schema.properties) return [];
	const required = new Set(schema.required ?? []);
	const fields = Object.entries(schema.properties).map(([name, prop]) => fieldFor(name, prop ?? {}, required.has(name)));
	return [...fields.filter((f) => f.required), ...fields.filter((f) => !f.required)];
}

/** What each input shows at first: the default, as text (lists one item per line). */
export function initialValues(fields: FormField[]): FormValues {
	const values: FormValues = {};
	for (const field of fields) {
		const d = field.default;
		if (field.kind === 'boolean') values[field.name] = d === true;
		else if (d === undefined || d === null) values[field.name] = '';
		else if (field.kind === 'string-list' && Array.isArray(d)) values[field.name] = d.map(String).join('\n');
		else if (field.kind === 'json') values[field.name] = JSON.stringify(d, null, 2);
		else values[field.name] = String(d);
	}
	return values;
}

export interface FormResult {
	input: Record<string, unknown>;
	errors: Record<string, string>;
}

/** The run input from the form: typed values, blank optional fields left out, problems by field. */
export function toInput(fields: FormField[], values: FormValues): FormResult {
	const input: Record<string, unknown> = {};
	const errors: Record<string, string> = {};
	for (const field of fields) {
		const raw = values[field.name];
		if (field.kind === 'boolean') {
			input[field.name] = raw === true;
			continue;
		}
		// Number inputs bound in the browser hand back numbers (or null when empty).
		const text = typeof raw === 'string' ? raw : typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : '';
		if (text.trim() === '') {
			if (field.required) errors[field.name] = `${field.label} is required.`;
			continue;
		}
		switch (field.kind) {
			case 'string':
			case 'enum': {
				if (field.minLength !== undefined && text.length < field.minLength)
					errors[field.name] = `${field.label} needs at least ${field.minLength} characters.`;
				else if (field.maxLength !== undefined && text.length > field.maxLength)
					errors[field.name] = `${field.label} takes at most ${field.maxLength} characters.`;
				else if (field.kind === 'enum' && !field.options?.includes(text))
					errors[field.name] = `${field.label} must be one of ${field.options?.join(', ')}.`;
				else input[field.name] = text;
				break;
			}
			case 'integer':
			case 'number': {
				const n = Number(text.trim());
				if (!Number.isFinite(n) || (field.kind === 'integer' && !Number.isInteger(n))) {
					errors[field.name] = `${field.label} must be ${field.kind === 'integer' ? 'a whole number' : 'a number'}.`;
				} else if (field.minimum !== undefined && n < field.minimum) {
					errors[field.name] = `${field.label} must be at least ${field.minimum}.`;
				} else if (field.maximum !== undefined && n > field.maximum) {
					errors[field.name] = `${field.label} must be at most ${field.maximum}.`;
				} else input[field.name] = n;
				break;
			}
			case 'string-list':
				input[field.name] = text
					.split('\n')
					.map((s) => s.trim())
					.filter(Boolean);
				break;
			case 'json':
				try {
					input[field.name] = JSON.parse(text);
				} catch {
					errors[field.name] = `${field.label} must be valid JSON.`;
				}
				break;
		}
	}
	return { input, errors };
}
