// Differential check of the service's parameter typing against Rocket.Chat 8.8.1's published
// validator (`isGETLivechatRoomsParams` from @rocket.chat/rest-typings, compiled as Rocket.Chat does:
// ajv 2020, coerceTypes "array"). The schema is read from the package's dist/v1/omnichannel.js.
//
//   node js-validator-check.js generate PACKAGE_DIR OUT/queries.json
//   node js-validator-check.js compare PACKAGE_DIR OUT/queries.json OUT/typed.json
//
// `typed.json` is what `cargo run --example parse_sample -- --typed OUT/queries.json` prints: per
// query, the typed parameters or the 400's message. Every query the validator accepts must type the
// same here; every type error it reports must be a 400 here. The deliberate exceptions (contract §2
// and "Deliberate differences"): unknown parameters are ignored here (they are dropped before
// validating); a string parameter given as an array or object is a 400 here even where ajv would
// coerce it (`open[]=true`); and count/offset that are negative, not finite or above 2^53 - 1 are
// a 400 here.
//
// Values are compared in a normal form, because ajv runs every branch of an `anyOf` and coerces in
// each: Rocket.Chat 8 turns `departmentId=a` into ["a"], `open=true` into the boolean true and
// `onhold=` into null. Those select the same rooms as the string forms this service keeps, so
// `departmentId` compares as a list, and `open`/`onhold`/`queued` as text with "" meaning absent.
const fs = require('fs');
const path = require('path');
const qs = require('qs');
const Ajv = require('ajv/dist/2020').default;

const [mode, packageDir, queriesFile, typedFile] = process.argv.slice(2);

const NAMES = ['agents', 'departmentId', 'open', 'tags', 'roomName', 'units', 'offset', 'count', 'sort',
  'fields', 'createdAt', 'closedAt', 'customFields', 'onhold', 'queued'];
const TEXT = new Set(['open', 'roomName', 'sort', 'fields', 'createdAt', 'closedAt', 'customFields', 'onhold', 'queued']);
const NUMBER = new Set(['count', 'offset']);
const FLAGS = new Set(['open', 'onhold', 'queued']);

// The normal form of one typed parameter (undefined: no value).
function normal(name, value) {
  if (value === null || value === undefined) return undefined;
  if (name === 'departmentId') return Array.isArray(value) ? value : [value];
  if (FLAGS.has(name)) return String(value) === '' ? undefined : String(value);
  return value;
}

function normalAll(params) {
  const out = {};
  for (const [name, value] of Object.entries(params)) {
    const v = normal(name, value);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function loadValidator() {
  const src = fs.readFileSync(path.join(packageDir, 'dist/v1/omnichannel.js'), 'utf8');
  const start = src.indexOf('const GETLivechatRoomsParamsSchema = ');
  const end = src.indexOf('export const isGETLivechatRoomsParams');
  if (start < 0 || end < 0) throw new Error('GETLivechatRoomsParamsSchema not found in the package');
  const schema = new Function(`${src.slice(start, end)}; return GETLivechatRoomsParamsSchema;`)();
  const ajv = new Ajv({ coerceTypes: 'array', allowUnionTypes: true, discriminator: true });
  return ajv.compile(schema);
}

// A small seeded generator, so a failure can be reproduced.
let seed = 0x2545f491;
function rand(n) {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}
const pick = (items) => items[rand(items.length)];

const VALUES = ['', 'x', 'ag1', 'agent-1-id', 'true', 'false', 't', '1', '0', '-1', '-0', '5', '25', '1e1', '0x4',
  ' 6', '6 ', '1.5', '.5', '5.', '+5', '0b11', '0o7', 'Infinity', '-Infinity', 'NaN', 'abc', '1_0', '9007199254740991',
  '9007199254740992', '1e21', '0.0000001', '{}', '{"ts":-1}', '{"fname":1}', '{"start":"2018-01-26"}',
  '{"docId":"031041"}', 'undefined', 'null', '"Ada"', 'Ada Lovelace', 'a,b', '[1]'];
const UNKNOWN = ['query', 'foo', 'agent', 'count2'];

function onePair(name) {
  const value = () => encodeURIComponent(pick(VALUES));
  switch (rand(7)) {
    case 0: case 1: return `${name}=${value()}`;
    case 2: return Array.from({ length: 1 + rand(3) }, () => `${name}[]=${value()}`).join('&');
    case 3: return `${name}[0]=${value()}`;
    case 4: return `${name}[a]=${value()}`;
    case 5: return `${name}=${value()}&${name}=${value()}`;
    default: return `${name}[]=${value()}`;
  }
}

function generate() {
  const fixed = ['agents=ag1', 'tags=vip', 'units=u1', 'agents=', 'count=1e1', 'count=0x4', 'count=%206', 'count=1.5',
    'count[]=5', 'offset=%206', 'roomName[]=x', 'sort[]=%7B%7D', 'fields[]=%7B%7D', 'createdAt[]=x', 'closedAt[x]=1',
    'customFields[]=x', 'onhold[]=t', 'queued[]=1', 'open[]=true', 'count=-1', 'count=Infinity', 'count=',
    'count[]=', 'departmentId[]=a', 'departmentId[a]=b', 'agents[a]=x', 'count=%20%20', 'count=-0', 'query=x',
    'count[]=5&count[]=6'];
  const queries = [...fixed];
  while (queries.length < 400) {
    const pairs = Array.from({ length: 1 + rand(4) }, () => onePair(rand(8) === 0 ? pick(UNKNOWN) : pick(NAMES)));
    queries.push(pairs.join('&'));
  }
  fs.writeFileSync(queriesFile, JSON.stringify(queries));
}

// What the service must answer for one query, from the validator's verdict.
function expected(validate, query) {
  const parsed = qs.parse(query);
  const data = {};
  for (const name of NAMES) if (name in parsed) data[name] = parsed[name];
  const deliberateText = Object.keys(data).some((n) => TEXT.has(n) && typeof data[n] !== 'string');
  if (!validate(data)) return { error: true, why: JSON.stringify(validate.errors.map((e) => `${e.instancePath} ${e.message}`)) };
  const deliberateNumber = Object.keys(data).some((n) => NUMBER.has(n) && typeof data[n] === 'number'
    && !(Number.isFinite(data[n]) && data[n] >= 0 && data[n] <= Number.MAX_SAFE_INTEGER));
  if (deliberateText || deliberateNumber) return { error: true, why: 'a deliberate difference' };
  const params = {};
  for (const [name, value] of Object.entries(data)) {
    if (value === null) continue;
    params[name] = NUMBER.has(name) ? parseInt(String(value), 10) : value;
  }
  return { params: normalAll(params) };
}

function sorted(object) {
  return JSON.stringify(Object.fromEntries(Object.entries(object).sort(([a], [b]) => a.localeCompare(b))));
}

function compare() {
  const validate = loadValidator();
  const queries = JSON.parse(fs.readFileSync(queriesFile, 'utf8'));
  const typed = JSON.parse(fs.readFileSync(typedFile, 'utf8'));
  let differ = 0;
  let accepted = 0;
  queries.forEach((query, i) => {
    const want = expected(validate, query);
    const got = typed[i];
    const same = want.error ? 'error' in got : 'params' in got && sorted(normalAll(got.params)) === sorted(want.params);
    if (!want.error) accepted++;
    if (!same) {
      differ++;
      console.log(`${query}\n  validator: ${JSON.stringify(want)}\n  service:   ${JSON.stringify(got)}`);
    }
  });
  console.log(`validator check: ${queries.length} query strings (${accepted} accepted by Rocket.Chat 8.8.1's validator), ${differ} differ`);
  process.exit(differ === 0 && queries.length >= 300 ? 0 : 1);
}

if (mode === 'generate') generate();
else if (mode === 'compare') compare();
else { console.error('usage: js-validator-check.js generate|compare PACKAGE_DIR QUERIES [TYPED]'); process.exit(2); }
