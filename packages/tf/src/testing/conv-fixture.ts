// Child-process fixture for backend.test.ts: start a backend from argv, run a conv-heavy
// computation on deterministic inputs, print {info, values} as JSON, and end WITHOUT
// process.exit so the test also checks that pthread workers do not keep the process alive.
import { initBackend, tf, type BackendChoice } from '../index.js';
import { convWorkload } from './workload.js';

const [backend, threads] = [process.argv[2] as BackendChoice, Number(process.argv[3])];
const info = await initBackend({ backend, threads, quiet: true });
const values = tf.tidy(() => Array.from(convWorkload().dataSync()));
process.stdout.write(JSON.stringify({ info, values }) + '\n');
