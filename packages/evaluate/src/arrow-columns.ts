import { Field, Float32, Int32, List, makeData, makeVector, Utf8, vectorFromArray, type Vector } from 'apache-arrow';

/** A List<Float32> or List<Int32> column built in one pass from per-row arrays (no per-value boxing). */
export function numberListVector(child: Float32 | Int32, rows: readonly ArrayLike<number>[]): Vector<List<Float32 | Int32>> {
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((r, i) => (offsets[i + 1] = offsets[i] + r.length));
  const flat = child instanceof Float32 ? new Float32Array(offsets[rows.length]) : new Int32Array(offsets[rows.length]);
  rows.forEach((r, i) => flat.set(r, offsets[i]));
  const type = new List<Float32 | Int32>(new Field('item', child, false));
  const values = makeData({ type: child, length: flat.length, data: flat } as Parameters<typeof makeData>[0]);
  return makeVector(makeData({ type, length: rows.length, nullCount: 0, valueOffsets: offsets, child: values } as Parameters<typeof makeData>[0])) as Vector<List<Float32 | Int32>>;
}

export function utf8ListVector(rows: readonly string[][]): Vector<List<Utf8>> {
  return vectorFromArray(rows, new List(new Field('item', new Utf8(), false)));
}
