/**
 * Opt-in phase timing for the training step (bench --profile): process CPU time (all threads) and
 * wall time per named phase. Off by default; when off, `phase()` is a single branch.
 */
export interface PhaseTotals {
  cpuMs: number;
  wallMs: number;
  calls: number;
}

let active: { totals: Map<string, PhaseTotals>; name: string | null; cpu: NodeJS.CpuUsage; wall: number } | null = null;

function close(): void {
  if (!active || active.name === null) return;
  const cpu = process.cpuUsage(active.cpu);
  const t = active.totals.get(active.name) ?? { cpuMs: 0, wallMs: 0, calls: 0 };
  t.cpuMs += (cpu.user + cpu.system) / 1000;
  t.wallMs += performance.now() - active.wall;
  t.calls++;
  active.totals.set(active.name, t);
}

/** Ends the current phase and starts `name` (null: stop timing until the next phase). */
export function phase(name: string | null): void {
  if (!active) return;
  close();
  active.name = name;
  active.cpu = process.cpuUsage();
  active.wall = performance.now();
}

/** Runs fn with phase timing on; returns the totals per phase (time outside named phases is not counted). */
export function profilePhases(fn: () => void): Map<string, PhaseTotals> {
  active = { totals: new Map(), name: null, cpu: process.cpuUsage(), wall: performance.now() };
  try {
    fn();
    close();
    return active.totals;
  } finally {
    active = null;
  }
}
