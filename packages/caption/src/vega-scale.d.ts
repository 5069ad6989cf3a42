// vega-scale ships index.d.ts but its package.json "exports" hides it from NodeNext resolution.
declare module 'vega-scale' {
  export function scheme(name: string): unknown;
}
