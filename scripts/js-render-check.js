// Reads DIR/docs.bson the way Rocket.Chat's Node.js driver does (js-bson 6, promoteLongs,
// promoteValues, no bsonRegExp), JSON.stringify's each document and compares with DIR/rust.jsonl.
const fs = require('fs');
const { BSON } = require('bson');
const dir = process.argv[2];
const buf = fs.readFileSync(dir + '/docs.bson');
const rust = fs.readFileSync(dir + '/rust.jsonl', 'utf8').trim().split('\n');
let offset = 0;
let i = 0;
let differ = 0;
while (offset < buf.length) {
  const size = buf.readInt32LE(offset);
  const doc = BSON.deserialize(buf.subarray(offset, offset + size), { promoteLongs: true, promoteValues: true, bsonRegExp: false });
  const js = JSON.stringify(doc);
  if (js !== rust[i]) {
    differ++;
    console.log(`document ${i} differs\n  js:   ${js}\n  rust: ${rust[i]}`);
  }
  offset += size;
  i++;
}
console.log(`render check: ${i} documents compared with js-bson, ${differ} differ`);
process.exit(differ === 0 && i === rust.length ? 0 : 1);
