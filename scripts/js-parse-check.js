// Compares DIR/parse.json (how the service reads sample dates and query strings, from
// `cargo run --example parse_sample`) with JavaScript's Date.parse (run with TZ=UTC) and qs.parse.
const qs = require('qs');
const input = JSON.parse(require('fs').readFileSync(process.argv[2] + '/parse.json', 'utf8'));
let differ = 0;
for (const [text, ms] of input.dates) {
  const js = Date.parse(text);
  const expected = Number.isNaN(js) ? null : js;
  if (expected !== ms) { differ++; console.log(`Date.parse(${JSON.stringify(text)}): js ${expected}, rust ${ms}`); }
}
const names = ['agents','departmentId','open','createdAt','closedAt','tags','customFields','roomName','onhold','queued','units','offset','count','sort','fields'];
for (const [query, rust] of input.queries) {
  const parsed = qs.parse(query);
  const js = {};
  for (const n of names) {
    const v = parsed[n];
    if (v === undefined) continue;
    if (typeof v === 'string') js[n] = { str: v };
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) js[n] = { array: v };
    else js[n] = 'object';
  }
  if (JSON.stringify(js) !== JSON.stringify(Object.fromEntries(names.filter((n) => n in rust).map((n) => [n, rust[n]])))) {
    differ++;
    console.log(`qs.parse(${JSON.stringify(query)}): js ${JSON.stringify(js)}, rust ${JSON.stringify(rust)}`);
  }
}
console.log(`parse check: ${input.dates.length} dates and ${input.queries.length} query strings compared, ${differ} differ`);
process.exit(differ ? 1 : 0);
