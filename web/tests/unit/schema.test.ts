import { describe, expect, it } from 'vitest';
import { fieldsFromSchema, initialValues, toInput } from '../../src/lib/schema';

const lessonPlan = {
	type: 'object',
	required: ['topic', 'grade'],
	properties: {
		topic: { type: 'string', minLength: 1 },
		grade: { type: 'integer', minimum: 1, maximum: 13 },
		minutes: { type: 'integer', minimum: 10, maximum: 240, default: 50 }
	}
};

describe('schema -> form fields', () => {
	it('maps types, required marks, limits and defaults', () => {
		const fields = fieldsFromSchema(lessonPlan);
		expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
			['topic', 'string', true],
			['grade', 'integer', true],
			['minutes', 'integer', false]
		]);
		expect(fields[1]).toMatchObject({ label: 'Grade', minimum: 1, maximum: 13 });
		expect(initialValues(fields)).toEqual({ topic: '', grade: '', minutes: '50' });
	});

	it('covers number, boolean, arrays of strings, enums and the rest as JSON', () => {
		const fields = fieldsFromSchema({
			type: 'object',
			required: ['highlights'],
			properties: {
				ratio: { type: 'number' },
				draft: { type: 'boolean', default: true },
				highlights: { type: 'array', items: { type: 'string' }, default: ['a', 'b'] },
				tone: { type: 'string', enum: ['warm', 'formal'] },
				extra: { type: 'object' },
				nullable_week: { type: ['string', 'null'], title: 'Week number' }
			}
		});
		const kinds = Object.fromEntries(fields.map((f) => [f.name, f.kind]));
		expect(kinds).toEqual({ highlights: 'string-list', ratio: 'number', draft: 'boolean', tone: 'enum', extra: 'json', nullable_week: 'string' });
		expect(fields[0].name).toBe('highlights'); // required first
		expect(fields.find((f) => f.name === 'nullable_week')!.label).toBe('Week number');
		expect(initialValues(fields)).toMatchObject({ draft: true, highlights: 'a\nb' });
	});

	it('has no fields without a schema or properties', () => {
		expect(fieldsFromSchema(null)).toEqual([]);
		expect(fieldsFromSchema({ type: 'object' })).toEqual([]);
	});
});

describe('form values -> run input', () => {
	const fields = fieldsFromSchema(lessonPlan);

	it('types the values and leaves blank optional fields out', () => {
		expect(toInput(fields, { topic: 'fractions', grade: '4', minutes: '' })).toEqual({ input: { topic: 'fractions', grade: 4 }, errors: {} });
		// number inputs bound in the browser give numbers
		expect(toInput(fields, { topic: 'x', grade: 4, minutes: 45 }).input).toEqual({ topic: 'x', grade: 4, minutes: 45 });
	});

	it('names each problem by field', () => {
		const { errors } = toInput(fields, { topic: '', grade: '4.5', minutes: '5' });
		expect(errors).toEqual({
			topic: 'Topic is required.',
			grade: 'Grade must be a whole number.',
			minutes: 'Minutes must be at least 10.'
		});
		expect(toInput(fields, { topic: 'x', grade: '14' }).errors.grade).toBe('Grade must be at most 13.');
		expect(toInput(fields, { topic: 'x', grade: null }).errors.grade).toBe('Grade is required.');
	});

	it('splits lists by line, parses JSON, keeps booleans', () => {
		const more = fieldsFromSchema({
			type: 'object',
			properties: { items: { type: 'array', items: { type: 'string' } }, meta: { type: 'object' }, ok: { type: 'boolean' } }
		});
		expect(toInput(more, { items: ' a \n\n b ', meta: '{"k": 1}', ok: true })).toEqual({ input: { items: ['a', 'b'], meta: { k: 1 }, ok: true }, errors: {} });
		expect(toInput(more, { meta: '{nope' }).errors.meta).toBe('Meta must be valid JSON.');
	});
});
