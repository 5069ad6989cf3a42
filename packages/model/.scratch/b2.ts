const n = 64*64*512;
const P = new Float32Array(n).map(() => Math.random() - 0.5);
const q = new Float32Array(64*512).map(() => Math.random() - 0.5);
const s = new Float32Array(n);
const va = new Float32Array(512).map(() => Math.random() - 0.5);
const score = new Float32Array(64*64);
function fwd() {
  for (let b = 0; b < 64; b++) for (let l = 0; l < 64; l++) {
    const base = (b*64+l)*512, qb = b*512; let acc = 0;
    for (let a = 0; a < 512; a++) { const v = 1/(1+Math.exp(-(P[base+a]+q[qb+a]))); s[base+a] = v; acc += v*va[a]; }
    score[b*64+l] = acc;
  }
}
const dP = new Float32Array(n); const dq = new Float32Array(64*512); const ds = new Float32Array(64*64).map(()=>Math.random());
function bwd() {
  dq.fill(0);
  for (let b = 0; b < 64; b++) for (let l = 0; l < 64; l++) {
    const base = (b*64+l)*512, qb = b*512; const d = ds[b*64+l];
    for (let a = 0; a < 512; a++) { const v = s[base+a]; const g = d*va[a]*v*(1-v); dP[base+a] += g; dq[qb+a] += g; }
  }
}
for (let k = 0; k < 3; k++) { fwd(); bwd(); }
let t0 = performance.now(); for (let k = 0; k < 10; k++) fwd(); console.log('fwd', (performance.now()-t0)/10);
t0 = performance.now(); for (let k = 0; k < 10; k++) bwd(); console.log('bwd', (performance.now()-t0)/10);
const L = new Float32Array(2176*5001).map(() => Math.random());
t0 = performance.now(); let z=0; for (let i = 0; i < L.length; i++) z += Math.exp(L[i]); console.log('exp 11M', performance.now()-t0, z>0);
