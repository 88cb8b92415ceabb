const n = 200*1024*1024; const src = new Uint8Array(n); src.fill(1);
for (let k=0;k<3;k++){
let t=performance.now(); let a=new Uint8Array(n); a.set(src); const t1=performance.now()-t;
t=performance.now(); let b=Buffer.allocUnsafeSlow(n); b.set(src); const t2=performance.now()-t;
t=performance.now(); b.set(src); const t3=performance.now()-t;
console.log(t1.toFixed(0), t2.toFixed(0), 'warm copy', t3.toFixed(0));}
