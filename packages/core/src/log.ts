import cliProgress from 'cli-progress';

/** Stage logging goes to stderr so stdout stays clean for JSON output (`--json`, benchmarks). */
export function log(stage: string, message: string): void {
  process.stderr.write(`[${stage}] ${message}\n`);
}

/** Peak resident set size of this process so far, in MiB (from getrusage). */
export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export interface Progress {
  /** Advance by `n` units; `fields` are shown next to the bar (e.g. loss). */
  tick(n?: number, fields?: Record<string, string | number>): void;
  stop(): void;
}

export interface ProgressOptions {
  stage: string;
  label: string;
  total: number;
  unit: string;
  /** Plain-line mode: print at most every this many ms (default 10 s). */
  intervalMs?: number;
  /** Force plain lines even on a TTY. */
  plain?: boolean;
}

function formatFields(fields: Record<string, string | number>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(4)) : v}`)
    .join('  ');
}

/**
 * A progress bar with rate and ETA on a terminal; periodic plain lines otherwise (CI logs,
 * redirected output), so logs stay readable and finite.
 */
export function progress(opts: ProgressOptions): Progress {
  const started = Date.now();
  let done = 0;
  let fields: Record<string, string | number> = {};
  const rate = () => done / Math.max(1e-3, (Date.now() - started) / 1000);
  const tty = !opts.plain && process.stderr.isTTY && !process.env.CI;
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `[${opts.stage}] ${opts.label} {bar} {value}/{total} {rate} ${opts.unit}/s  ETA {eta_formatted}  {fields}`,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(opts.total, 0, { rate: '0.0', fields: '' });
    return {
      tick(n = 1, f) {
        done += n;
        if (f) fields = f;
        bar.update(done, { rate: rate().toFixed(1), fields: formatFields(fields) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const interval = opts.intervalMs ?? 10_000;
  let last = started;
  const line = () => {
    const r = rate();
    const eta = r > 0 ? Math.round((opts.total - done) / r) : NaN;
    log(opts.stage, `${opts.label} ${done}/${opts.total} ${r.toFixed(1)} ${opts.unit}/s ETA ${eta}s ${formatFields(fields)}`.trimEnd());
  };
  return {
    tick(n = 1, f) {
      done += n;
      if (f) fields = f;
      if (Date.now() - last >= interval) {
        last = Date.now();
        line();
      }
    },
    stop() {
      line();
    },
  };
}

/** Wall-clock timer for stage reports. */
export function timer(): () => number {
  const t0 = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - t0) / 1e9;
}
