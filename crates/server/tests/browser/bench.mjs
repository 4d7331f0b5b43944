// node bench.mjs <url> [requests=2000] [concurrency=8]
// GETs one page `requests` times, `concurrency` at a time, after 100 warm-up requests; prints the
// latency percentiles (ms, measured at the client on the same machine: an upper bound of the
// server's time) and the bytes of one answer. Used for the guest booking page (docs/BENCHMARKS.md).
const [url, n = "2000", c = "8"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node bench.mjs <url> [requests] [concurrency]");
  process.exit(2);
}
const requests = Number(n);
const concurrency = Number(c);

async function once() {
  const t = performance.now();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return { ms: performance.now() - t, bytes: body.byteLength };
}

for (let i = 0; i < 100; i++) await once();
const times = [];
let bytes = 0;
let next = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < requests) {
      next++;
      const r = await once();
      times.push(r.ms);
      bytes = r.bytes;
    }
  }),
);
const wall = (performance.now() - started) / 1000;
times.sort((a, b) => a - b);
const p = (q) => times[Math.min(times.length - 1, Math.round((times.length - 1) * q))].toFixed(2);
console.log(
  JSON.stringify({ url, requests: times.length, concurrency, rps: Math.round(times.length / wall), p50_ms: p(0.5), p95_ms: p(0.95), p99_ms: p(0.99), max_ms: times[times.length - 1].toFixed(2), html_bytes: bytes }),
);
