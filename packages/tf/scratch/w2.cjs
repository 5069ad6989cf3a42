const { Worker } = require('worker_threads');
const w = new Worker(require('path').join(__dirname,'worker.cjs'));
w.on('error', e => console.error('worker error', e)); w.on('exit', c => console.error('exit', c));
w.on('message', m => console.error('msg', m));
setTimeout(()=>w.terminate(), 1000);
