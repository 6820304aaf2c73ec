#!/usr/bin/env node
// gen_golden.cjs writes testdata/golden.json: expected outputs for package
// jsjson computed by node's own JSON.parse / JSON.stringify, so the Go tests
// compare against JavaScript rather than against themselves.
//
// Usage (from the repository root or anywhere):
//
//   node internal/jsjson/gen_golden.cjs
//
// Environment (optional, for a larger one-off differential run):
//
//   JSJSON_OUT=/tmp/big.json   write there instead of testdata/golden.json
//   JSJSON_RANDOM=100000       number of random JSON documents (default 300)
//   JSJSON_RANDOM_NUMS=100000  number of random float64 bit patterns (default 400)
//   JSJSON_SEED=7              PRNG seed (default 1)
//
// The Go test reads an alternative file from $JSJSON_GOLDEN.
//
// File layout:
//   normalize: [{name, in, out}]        out = JSON.stringify(JSON.parse(in))
//   invalid:   [{name, in, jsError}]    JSON.parse(in) throws
//   numbers:   [{num | bits, out}]      out = JSON.stringify(Number(num)), or of
//                                       the float64 with those IEEE-754 bits (hex)
//   strings:   [{str, out}]             out = JSON.stringify(str)
//   utf8:      [{in, out}]              hex of the UTF-8 encoding of
//                                       new TextDecoder().decode(bytes in hex)
//   members:   [{name, in, key, found, out, truthy, str, units}]
//                                       v = JSON.parse(in)[key], found =
//                                       Object.hasOwn; out = JSON.stringify(v),
//                                       truthy = !!v; for a string v, str =
//                                       v.toWellFormed(), units = v.length
//   spread:    [{name, in, key, val, out}]
//                                       out = JSON.stringify({...JSON.parse(in),
//                                       [key]: JSON.parse(val)})
'use strict';

const fs = require('fs');
const path = require('path');

const outPath = process.env.JSJSON_OUT || path.join(__dirname, 'testdata', 'golden.json');
const nRandom = Number(process.env.JSJSON_RANDOM || 300);
const nRandomNums = Number(process.env.JSJSON_RANDOM_NUMS || 400);
let seed = Number(process.env.JSJSON_SEED || 1) >>> 0;

// mulberry32: small deterministic PRNG so regenerating gives the same file.
function rand32() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}
const rint = (n) => rand32() % n; // 0 <= x < n (bias irrelevant here)
const pick = (a) => a[rint(a.length)];

const normalize = [];
const invalid = [];
const numbers = [];
const strings = [];

// A JS string with no lone surrogates (such strings survive a round trip
// through UTF-8 and Go unchanged).
const wellFormed = (s) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

function valid(name, input) {
  if (!wellFormed(input)) throw new Error(`${name}: input text has a lone surrogate`);
  const out = JSON.stringify(JSON.parse(input)); // throws if invalid: a bug in this script
  normalize.push({ name, in: input, out });
}

function bad(name, input) {
  if (!wellFormed(input)) throw new Error(`${name}: input text has a lone surrogate`);
  try {
    JSON.parse(input);
  } catch (e) {
    invalid.push({ name, in: input, jsError: e.message.slice(0, 200) });
    return;
  }
  throw new Error(`${name}: expected JSON.parse to throw for ${JSON.stringify(input)}`);
}

// num adds a number case; the JSON-parsable ones are also Normalize cases
// unless alsoNormalize is false.
function num(spelled, alsoNormalize = true) {
  numbers.push({ num: spelled, out: JSON.stringify(Number(spelled)) });
  if (alsoNormalize && !/^(NaN|-?Infinity)$/.test(spelled)) valid('number ' + spelled, spelled);
}

const dv = new DataView(new ArrayBuffer(8));
function bitsOf(x) {
  dv.setFloat64(0, x);
  return dv.getBigUint64(0);
}
function fromBits(b) {
  dv.setBigUint64(0, BigInt.asUintN(64, b));
  return dv.getFloat64(0);
}
function numBits(b) {
  b = BigInt.asUintN(64, b);
  numbers.push({ bits: b.toString(16).padStart(16, '0'), out: JSON.stringify(fromBits(b)) });
}

function str(s) {
  if (!wellFormed(s)) throw new Error('string case has a lone surrogate');
  strings.push({ str: s, out: JSON.stringify(s) });
}

// ---------------------------------------------------------------- strings

const hex4 = (n) => n.toString(16).padStart(4, '0');

valid('html-sensitive', '"<script>a && b > c</script>"');
valid('u2028-u2029 literal', '"a\u2028b\u2029c"');
valid('u2028-u2029 escaped', '"a\\u2028b\\u2029c"');
valid('del literal', '"a\u007fb"');
valid('del escaped', '"a\\u007fb"');
valid('quote and backslash', '"say \\"hi\\" \\\\ C:\\\\path"');
valid('solidus escape', '"http:\\/\\/example.com\\/a"');
valid('short escapes', '"\\b\\f\\n\\r\\t"');
valid('escaped A', '"\\u0041\\u0062"');
valid('uppercase hex', '"\\u00E9\\u00e9"');
valid('emoji literal', '"😀 👍🏽 🇩🇪"');
valid('emoji escaped pair', '"\\ud83d\\ude00"');
valid('emoji escaped pair uppercase', '"\\uD83D\\uDE00"');
valid('emoji half escaped', '"x\\ud83d\\ude00y"');
valid('lone high surrogate', '"\\ud800"');
valid('lone low surrogate', '"\\udfff"');
valid('pair uppercase', '"\\uD800\\uDFFF"');
valid('lone surrogates uppercase', '"\\uDBFFx\\uDC00"');
valid('low then high', '"\\udc00\\ud800"');
valid('high high low', '"\\ud800\\ud800\\udc00"');
valid('high then letter', '"\\ud800a"');
valid('high then escaped letter', '"\\ud800\\u0061"');
valid('high then short escape', '"\\ud800\\n"');
valid('high at end of key', '{"\\ud83d":1,"\\ud83d\\ude00":2}');
valid('nul escaped', '"\\u0000"');
valid('bom in string', '"\ufeffx"');
valid('noncharacters', '"\ufffe\uffff\ufffd"');
valid('cjk and combining', '"日本語 e\u0301 Ω"');
valid('astral escaped max', '"\\udbff\\udfff"');
valid('empty string', '""');
let allCtl = '"';
for (let c = 0; c < 0x20; c++) {
  valid(`control U+${hex4(c)} escaped`, `"\\u${hex4(c)}"`);
  allCtl += `\\u${hex4(c).toUpperCase()}`;
}
valid('all controls', allCtl + '"');
let allAscii = '"';
for (let c = 0x20; c < 0x80; c++) {
  const ch = String.fromCharCode(c);
  allAscii += ch === '"' || ch === '\\' ? '\\' + ch : ch;
}
valid('all printable ascii', allAscii + '"');

for (let c = 0; c < 0x100; c++) str(String.fromCharCode(c));
for (const s of ['', '<>&', '\u2028\u2029', '\u007f', '"\\', '😀', 'a😀b', '\ufeff', '\ufffd', '\uffff',
  'héllo wörld', 'tab\there', 'line\nbreak\r\n', '\u0000\u001f\u0020', '</script>', 'ao\u0085\u00a0x',
  '\u{10ffff}', '\u{1f600}\u{1f600}', 'Ω≈ç√∫˜µ≤≥÷', '日本語', 'e\u0301']) str(s);
{
  // A long random well-formed string.
  let s = '';
  for (let i = 0; i < 2000; i++) {
    const r = rint(10);
    let cp;
    if (r < 4) cp = rint(0x80);
    else if (r < 6) cp = 0x80 + rint(0x780);
    else if (r < 8) { do cp = 0x800 + rint(0xf800); while (cp >= 0xd800 && cp <= 0xdfff); }
    else cp = 0x10000 + rint(0x100000);
    s += String.fromCodePoint(cp);
  }
  str(s);
}

// ---------------------------------------------------------------- numbers

for (const s of ['0', '-0', '1', '-1', '0.1', '-0.1', '1e21', '1e20', '123456789012345678901234', '1.5e-7',
  '1e-6', '1e-7', '0.000001', '0.0000001', '5e-324', '-5e-324', '4.9e-324', '2.4703282292062327e-324',
  '2.4703282292062328e-324', '1e-400', '-1e-400', '1.7976931348623157e308', '1.7976931348623158e308',
  '1.7976931348623159e308', '1e309', '-1e400', '9007199254740993', '9007199254740992', '9007199254740991',
  '-9007199254740993', '100', '1E2', '1e+2', '1E-2', '1.0', '0.10', '-0.0', '0e10', '0E-10', '-0e+0',
  '-1.5e300', '1.2345678901234567e21', '1.2345678901234567e20', '123456789012345680000', '999999999999999999999',
  '99999999999999999999', '100000000000000000000', '1000000000000000000000', '0.1e1', '100e-2',
  '3.141592653589793238462643383279502884197', '2.718281828459045', '0.30000000000000004', '1.1', '0.5',
  '1e15', '1e16', '1e17', '123456789012345', '1234567890123456', '12345678901234567', '999999999999999',
  '-999999999999999', '-1234567890123456', '4294967295', '4294967296', '1e-5', '1.2e-5', '0.00001',
  '123e-20', '1.7e-323', '2.2250738585072014e-308', '2.2250738585072011e-308', '1.5', '-2.5e-7', '25e-8',
  '1' + '0'.repeat(400), '0.' + '0'.repeat(400) + '1', '1.' + '0'.repeat(300) + '1',
  '7.0e-10', '1.00000000000000011102230246251565404236316680908203125', '1700000000000', '1500000',
  'NaN', 'Infinity', '-Infinity']) num(s);
for (let e = -330; e <= 310; e++) num(`1e${e}`, false);
for (let e = -25; e <= 25; e++) { num(`1.5e${e}`, false); num(`-1.2345678901234567e${e}`, false); }

// Random IEEE-754 bit patterns (every exponent range, NaNs included).
for (let i = 0; i < nRandomNums; i++) numBits((BigInt(rand32()) << 32n) | BigInt(rand32()));
// Neighbours of the notation boundaries 1e21, 1e-6 and 1e-7, and of powers of ten.
for (const x of [1e21, 1e-6, 1e-7, 1e15, 1e16, 2 ** 53, 1e-323, 2.2250738585072014e-308, 1.7976931348623157e308]) {
  const b = bitsOf(x);
  for (let d = -3n; d <= 3n; d++) numBits(b + d);
}
// "Nice" decimals: random integers and short fractions at random scales.
for (let i = 0; i < Math.max(100, nRandomNums / 4); i++) {
  const digits = 1 + rint(17);
  let m = String(1 + rint(9));
  for (let j = 1; j < digits; j++) m += String(rint(10));
  const x = Number(`${m}e${rint(60) - 30}`);
  numBits(bitsOf(rint(2) ? x : -x));
}

// ---------------------------------------------------------------- structure

valid('empty object', '{}');
valid('empty array', '[]');
valid('empty nested', '[{},[],{"a":[]},{"":{}}]');
valid('literals', '[true,false,null]');
valid('top-level true', 'true');
valid('top-level null', ' null ');
valid('top-level string', '"x"');
valid('whitespace everywhere', ' \t\n\r{ \t"a" \n:\r [ 1 ,\t2 , { "b" : null } ] ,\n\n"c":"d" } \r\n\t ');
valid('integer-like keys', '{"b":1,"2":2,"a":3,"1":4,"01":5,"4294967295":6,"4294967294":7}');
valid('integer-like keys 2', '{"10":1,"9":2,"-1":3,"1.0":4,"1e3":5," 1":6,"+1":7,"0":8,"00":9,"":10}');
valid('integer-like escaped key', '{"z":0,"\\u0031":1,"0":2}');
valid('duplicate keys', '{"a":1,"b":2,"a":3}');
valid('duplicate keys nested values', '{"a":{"x":1},"b":[1],"a":[2,{"y":3}],"c":null,"b":{}}');
valid('duplicate index keys', '{"2":1,"x":0,"1":2,"2":3,"x":4}');
valid('duplicate escaped key', '{"A":1,"\\u0041":2}');
valid('duplicate key many', '{"k":1,"k":2,"k":3,"k":4}');
valid('proto key', '{"__proto__":1,"a":2}');
valid('proto object', '{"a":0,"__proto__":{"polluted":true},"__proto__":[1]}');
valid('builtin names', '{"constructor":1,"toString":2,"hasOwnProperty":3,"length":4}');
{
  // Large objects: exercise the map-based duplicate handling.
  const parts = [];
  for (let i = 0; i < 60; i++) parts.push(`"k${i % 37}":${i}`);
  for (let i = 40; i >= 0; i -= 3) parts.push(`"${i}":"v${i}"`);
  valid('large object with duplicates', `{${parts.join(',')}}`);
  const p2 = [];
  for (let i = 0; i < 100; i++) p2.push(`"name${i}":${i}`);
  valid('large object no duplicates', `{${p2.join(',')}}`);
  const p3 = [];
  for (let i = 99; i >= 0; i--) p3.push(`"${i}":${i}`);
  valid('large object reversed indices', `{${p3.join(',')}}`);
}
valid('nested', '{"a":[1,[2,[3,{"b":{"c":[{}]}}]]],"d":{"e":{"f":{"g":"h"}}}}');
valid('array of mixed', '[1,"two",3.0,{"four":4},[5],null,true,false,-0,1e2]');
// node's JSON.stringify is recursive and throws RangeError (call stack) at
// roughly 4175 levels with the default stack size, so stay below that here;
// the Go test checks jsjson.MaxDepth on its own.
for (const depth of [100, 1000, 4000]) {
  valid(`deep array ${depth}`, '['.repeat(depth) + ']'.repeat(depth));
}
valid('deep object 1000', '{"a":'.repeat(1000) + '1' + '}'.repeat(1000));
valid('deep mixed 2000', '[{"x":'.repeat(1000) + '"bottom"' + '}]'.repeat(1000));

// ---------------------------------------------------------------- ao messages

function tag(name, value) { return { name, value }; }
const sig = 'Qm' + 'x7_Fa-9kZ'.repeat(56);
const aoMessage = {
  Id: 'gNZeNZ6lJW2jvXhB0ibK8eV4xhwfCXHJDkjqzMqIFCQ',
  Owner: 'z1pq2WzmaYnfDwvEFgUZBj48anUsxxN64ZjbWOsIn08',
  From: 'z1pq2WzmaYnfDwvEFgUZBj48anUsxxN64ZjbWOsIn08',
  Target: 'xU9zFkq3X2ZQ6olwNVvr1vUWIjc3kXTWr7xKQD6dh10',
  Anchor: '00000000000000000000000000000003',
  Module: 'Pq2Zftrqut0hdisH_MC2pDOT6S4eQFoxGsFUzR6r350',
  Signature: sig,
  Data: JSON.stringify({ balances: { abc: '1000000000000', 'héllo': '2' }, note: '<b>&amp;</b>\u2028\n' }),
  Tags: [
    tag('Data-Protocol', 'ao'), tag('Variant', 'ao.TN.1'), tag('Type', 'Message'), tag('Action', 'Transfer'),
    tag('Quantity', '1000000000000'), tag('Recipient', 'xU9zFkq3X2ZQ6olwNVvr1vUWIjc3kXTWr7xKQD6dh10'),
    tag('X-Note', 'héllo <b>&amp;</b> \u2028 😀 "quoted" \\ \t'), tag('SDK', 'aoconnect'),
  ],
  Timestamp: 1700000000000,
  'Block-Height': 1500000,
  Cron: false,
  Epoch: 0,
  Nonce: 3,
  'Hash-Chain': 'hDbMZyqq2gcmgXW0fMFbGXzCyUTUJx4uA9yaDdDaB8U',
  'Forwarded-By': null,
  Weight: 0.75,
};
const aoEnv = {
  Process: { Id: aoMessage.Target, Owner: aoMessage.Owner, Tags: aoMessage.Tags.slice(0, 3), TagArray: [] },
  Module: { Id: aoMessage.Module, Tags: [tag('Memory-Limit', '1-gb'), tag('Compute-Limit', '9000000000000')] },
};

// A JSON text as Go's encoding/json would write it: <, >, &, U+2028, U+2029
// escaped, and here additionally every non-ASCII character as \uXXXX.
function goStyle(v, indent) {
  return JSON.stringify(v, null, indent).replace(/[<>&\u0080-\uffff]/g,
    (c) => '\\u' + hex4(c.charCodeAt(0)));
}
valid('ao message compact', JSON.stringify(aoMessage));
valid('ao message indented', JSON.stringify(aoMessage, null, 2));
valid('ao message go-escaped', goStyle(aoMessage, '\t'));
valid('ao env', JSON.stringify(aoEnv, null, 1));
valid('ao message list', JSON.stringify([aoMessage, { ...aoMessage, Cron: true, Id: 'x', 'Block-Height': 1500001 }]));
{
  // Keys in a different order with integer-like and duplicate keys mixed in.
  const t = JSON.stringify(aoMessage);
  valid('ao message with extras', '{"1":"one",' + t.slice(1, -1) + ',"Cron":true,"0":"zero","Id":"dup"}');
}

// Built field by field by the Go test with jsjson.Object / jsjson.Array.
valid('builder', JSON.stringify({
  Id: 'abc', Target: 'proc<1>&2', Tags: [tag('Action', 'Eval'), tag('X-\u2028', '😀\u0000')],
  List: ['a', 1.5, true, null, 1e21], Timestamp: 1700000000000, 'Block-Height': 1500000,
  Cron: false, Ratio: 0.1, Bad: NaN, Inf: -Infinity, Tiny: 1e-7, Nothing: null, Empty: {}, EmptyList: [],
}));

// ---------------------------------------------------------------- invalid

for (const [name, s] of [
  ['empty', ''], ['only whitespace', ' \n\t'], ['trailing garbage', '{} x'], ['two values', '{}{}'],
  ['two numbers', '1 2'], ['truncated object', '{"a":1'], ['truncated object key', '{"a'],
  ['truncated after colon', '{"a":'], ['truncated array', '[1,2'], ['open brace', '{'], ['open bracket', '['],
  ['close brace', '}'], ['close bracket', ']'], ['extra close', '[1]]'], ['bad escape x', '"\\x"'],
  ['bad escape single quote', '"\\\'"'], ['bad escape uppercase U', '"\\U0041"'], ['short unicode escape', '"\\u12"'],
  ['bad hex', '"\\u12g4"'], ['escape at end', '"\\'], ['unterminated string', '"abc'],
  ['raw control', '"a\u0001b"'], ['raw newline', '"a\nb"'], ['raw tab', '"a\tb"'], ['raw nul', '"\u0000"'],
  ['leading zero', '01'], ['leading zero negative', '-01'], ['leading zeros', '00'], ['plus sign', '+1'],
  ['leading dot', '.5'], ['trailing dot', '1.'], ['dot exponent', '1.e5'], ['empty exponent', '1e'],
  ['exponent sign only', '1e+'], ['minus only', '-'], ['minus space', '- 1'], ['hex number', '0x10'],
  ['underscore number', '1_000'], ['NaN', 'NaN'], ['Infinity', 'Infinity'], ['-Infinity', '-Infinity'],
  ['single quotes', "'a'"], ['single quoted key', "{'a':1}"], ['unquoted key', '{a:1}'],
  ['missing colon', '{"a" 1}'], ['missing comma', '[1 2]'], ['trailing comma array', '[1,]'],
  ['trailing comma object', '{"a":1,}'], ['leading comma', '[,1]'], ['double comma', '[1,,2]'],
  ['tru', 'tru'], ['nul', 'nul'], ['True', 'True'], ['falsey', 'falsey'], ['undefined', 'undefined'],
  ['bom', '\ufeff{}'], ['nbsp', '\u00a0{}'], ['vertical tab', '\u000b{}'], ['form feed', '\f{}'],
  ['line separator ws', '\u2028{}'], ['comment', '/*c*/1'], ['line comment', '1 // c'],
  ['number key', '{1:1}'], ['array as key', '{[]:1}'], ['colon in array', '[1:2]'],
]) bad(name, s);
bad('too deep? no: only for contrast', '['.repeat(10) + ']'.repeat(9));

// ---------------------------------------------------------------- random

const wsChoices = ['', '', '', ' ', '\n', '\t', '\r\n', '  '];
const ws = () => pick(wsChoices);
const keyPool = ['a', 'b', 'Id', 'Tags', '0', '1', '2', '10', '01', '-1', '1.5', '4294967294', '4294967295',
  '\\u0031', '\\u0061', '', '__proto__', 'k\\n', '😀', '\\ud83d\\ude00', '\\ud800', '\\uDC00'];

function randNumberText() {
  switch (rint(6)) {
    case 0: return String(rint(1000));
    case 1: return pick(['0', '-0', '1e21', '1e-7', '5e-324', '1e400', '-1e-400', '0.0', '1E2', '9007199254740993']);
    default: {
      let s = rint(3) === 0 ? '-' : '';
      const n = 1 + rint(rint(2) ? 4 : 25);
      s += rint(8) === 0 ? '0' : String(1 + rint(9)) + Array.from({ length: n - 1 }, () => rint(10)).join('');
      if (rint(2)) s += '.' + Array.from({ length: 1 + rint(20) }, () => rint(10)).join('');
      if (rint(3) === 0) s += pick(['e', 'E']) + pick(['', '+', '-']) + String(rint(rint(2) ? 30 : 400));
      return s;
    }
  }
}

function randHex(cu) {
  const h = hex4(cu);
  return rint(2) ? h : h.toUpperCase();
}

function randStringText() {
  let s = '"';
  const n = rint(12);
  for (let i = 0; i < n; i++) {
    switch (rint(12)) {
      case 0: s += pick(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t']); break;
      case 1: s += '\\u' + randHex(rint(0x80)); break;
      case 2: s += '\\u' + randHex(0xd800 + rint(0x800)); break; // surrogate, maybe lone
      case 3: { const cp = 0x10000 + rint(0x100000); const t = String.fromCodePoint(cp);
        s += '\\u' + randHex(t.charCodeAt(0)) + '\\u' + randHex(t.charCodeAt(1)); break; }
      case 4: { let cu; do cu = rint(0x10000); while (cu >= 0xd800 && cu <= 0xdfff); s += '\\u' + randHex(cu); break; }
      case 5: s += String.fromCodePoint(0x10000 + rint(0x100000)); break;
      case 6: { let cu; do cu = 0x80 + rint(0xff80); while (cu >= 0xd800 && cu <= 0xdfff); s += String.fromCharCode(cu); break; }
      case 7: s += pick(['\u2028', '\u2029', '\u007f', '<', '>', '&', '\ufeff']); break;
      default: s += String.fromCharCode(0x20 + rint(0x5f)).replace(/["\\]/, 'q');
    }
  }
  return s + '"';
}

function randValue(depth) {
  const r = rint(depth > 3 ? 6 : 10);
  if (r < 2) return pick(['true', 'false', 'null']);
  if (r < 4) return randNumberText();
  if (r < 6) return randStringText();
  if (r < 8) {
    const n = rint(6);
    const items = [];
    for (let i = 0; i < n; i++) items.push(ws() + randValue(depth + 1) + ws());
    return '[' + (n ? items.join(',') : ws()) + ']';
  }
  const n = rint(rint(5) === 0 ? 30 : 7);
  const items = [];
  for (let i = 0; i < n; i++) {
    const key = rint(2) ? '"' + pick(keyPool) + '"' : randStringText();
    items.push(ws() + key + ws() + ':' + ws() + randValue(depth + 1) + ws());
  }
  return '{' + (n ? items.join(',') : ws()) + '}';
}

for (let i = 0; i < nRandom; i++) {
  let doc;
  do doc = ws() + randValue(0) + ws(); while (doc.length > 3000); // keep the file small
  valid(`random ${i}`, doc);
}

// ---------------------------------------------------------------- utf8

// TextDecoder is what Response.text() and Response.json() use ("UTF-8
// decode": BOM removed, maximal subparts of ill-formed input become U+FFFD).
// Hex in, hex of the UTF-8 encoding of the decoded string out.
const utf8 = [];
function dec(h) {
  const out = Buffer.from(new TextDecoder().decode(Buffer.from(h, 'hex')), 'utf8').toString('hex');
  utf8.push({ in: h, out });
}
for (const h of ['', '41', 'efbbbf', 'efbbbf41', 'efbbbfefbbbf41', '41efbbbf42', 'efbb', 'efbb41', 'c0af', 'c1bf',
  'e282', 'e28241', 'e282ac', 'f09f98', 'f09f9841', 'f09f9880', 'eda080', 'edbfbf', 'ed9fbf', 'ee8080', 'f4908080',
  'f48fbfbf', 'f4bfbfbf', 'f5808080', 'f8888080', 'ff', 'fe41fe', 'c2', 'c241', 'e0a0', 'e080', 'e09f80', 'f08f',
  'f0', 'c3a9e2', 'e0a0c3a9', '80808041', 'efbfbd', 'e2', 'e2ac', 'eda0', '41c2c2', 'f09f', 'f09fc2a9']) dec(h);
{
  // Every kind of lead byte followed by bytes on both sides of the ranges of
  // Unicode Table 3-7.
  const leads = [0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4,
    0xf5, 0xf7, 0xf8, 0xfe, 0xff];
  const seconds = [0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc3];
  const hx = (b) => b.toString(16).padStart(2, '0');
  for (const l of leads) {
    for (const b of seconds) {
      for (const tail of ['', '80', '8041', '80c3a9']) dec(hx(l) + hx(b) + tail);
    }
  }
  // Random byte strings biased towards lead and continuation bytes.
  const pool = [0x41, 0x20, 0x80, 0x8f, 0x90, 0xa0, 0xbf, 0xc2, 0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5,
    0xff, 0xbb, 0x9f];
  for (let i = 0; i < 200; i++) {
    const n = rint(14);
    let h = '';
    for (let j = 0; j < n; j++) h += hx(rint(4) === 0 ? rint(256) : pick(pool));
    dec(h);
  }
}

// ---------------------------------------------------------------- members

// members: JSON.parse(in)[key] for object documents. found is
// Object.hasOwn; out is JSON.stringify of the value, truthy is !!value, and
// for strings str is the value with lone surrogates replaced by U+FFFD (as a
// Go string holds it) and units its length in UTF-16 code units.
const members = [];
function member(name, input, key) {
  if (!wellFormed(input) || !wellFormed(key)) throw new Error(`${name}: lone surrogate in input or key`);
  const obj = JSON.parse(input);
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(`${name}: not an object`);
  const c = { name, in: input, key, found: Object.hasOwn(obj, key) };
  if (c.found) {
    const v = obj[key];
    c.out = JSON.stringify(v);
    c.truthy = !!v;
    if (typeof v === 'string') {
      c.str = v.toWellFormed();
      c.units = v.length;
    }
  }
  members.push(c);
}
for (const v of ['0', '-0', '0.0', '0e7', '-0E-3', '1e-400', '-1e-400', '1e400', '-1e400', '5e-324', '1', '-1', '0.1',
  '0.' + '0'.repeat(400) + '1', '1' + '0'.repeat(400), '""', '"0"', '" "', '"false"', '"\\u0000"', '"\\ud800"',
  '"a\\udc00\\ud83d\\ude00b"', '"\\ud83d"', '"😀\\u2028\\n\\"\\\\\\/"', '"\\uD800\\uD800\\uDC00"', '[]', '[ ]', '[0]',
  '{}', '{ }', '{"length":0}', 'true', 'false', 'null', ' "x" ', '\n1e400\t']) {
  member('value ' + v, '{"v":' + v + '}', 'v');
  member('spaced value ' + v, '{ "w" : 1 , "v" :\t' + v + ' \n}', 'v');
}
for (const [name, input, keys] of [
  ['simple', '{"a":1,"b":"x"}', ['a', 'b', 'c', '']],
  ['duplicate last wins', '{"a":1,"b":2,"a":{"z":[3]}}', ['a', 'b']],
  ['escaped key', '{"A":1,"\\u0041":2,"\\u00e9":3,"\\ud83d\\ude00":4}', ['A', 'é', '😀']],
  ['nested not top-level', '{ "owner" : "abc" , "x":[1,{"owner":2}], "y":{"owner":3} }', ['owner', 'x', 'y', 'z']],
  ['only nested', '{"x":{"owner":"no"}}', ['owner']],
  ['proto', '{"__proto__":{"a":1},"b":2}', ['__proto__', 'a', 'b']],
  ['inherited names', '{"x":1}', ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'length']],
  ['own inherited names', '{"constructor":0,"toString":"s","length":2}', ['constructor', 'toString', 'length']],
  ['empty', '{}', ['', 'a']],
  ['empty key', '{"":0,"a":1}', ['']],
  ['index keys', '{"1":1,"01":2,"b":3,"0":4}', ['1', '01', '0', '2']],
  ['special keys', '{"a\\"b":1,"\\n":2,"\\u2028":3,"\\u007f":4,"\\/":5}', ['a"b', '\n', '\u2028', '\u007f', '/']],
  ['tx-like', '\t{"format":2,"id":"x","owner":"AQAB","tags":[{"name":"a","value":"b"}],"data_size":"0"}\n',
    ['owner', 'tags', 'data_size', 'format']],
  ['graphql', '{"data":{"transactions":{"edges":[{"node":{"tags":[]}}]}}}', ['data', 'errors']],
]) for (const k of keys) member(`${name} [${k}]`, input, k);
for (let i = 0; i < 60; i++) {
  let doc;
  do doc = randValue(0); while (doc[0] !== '{' || doc.length > 400);
  const keys = Object.keys(JSON.parse(doc)).filter(wellFormed);
  const extra = JSON.parse('"' + pick(keyPool) + '"');
  if (wellFormed(extra) && !keys.includes(extra)) keys.push(extra);
  for (const k of keys.slice(0, 3)) member(`random ${i} [${k}]`, ws() + doc + ws(), k);
}

// ---------------------------------------------------------------- spread

// spread: JSON.stringify({...JSON.parse(in), [key]: JSON.parse(val)}).
const spread = [];
function spreadCase(name, input, key, val) {
  if (!wellFormed(input) || !wellFormed(key) || !wellFormed(val)) throw new Error(`${name}: lone surrogate`);
  spread.push({ name, in: input, key, val, out: JSON.stringify({ ...JSON.parse(input), [key]: JSON.parse(val) }) });
}
for (const [name, input, key, val] of [
  ['append', '{"a":1}', 'b', '2'],
  ['empty object', '{}', 'a', '"x"'],
  ['empty object spaced', ' { } ', 'a', '"x"'],
  ['existing keeps position', '{"a":1,"b":2,"c":3}', 'b', '"new"'],
  ['existing first', '{"a":1,"b":2}', 'a', 'null'],
  ['existing last', '{"a":1,"b":2}', 'b', '[1, {"x" : 1.0}]'],
  ['duplicates in input', '{"a":1,"b":2,"a":3}', 'c', '4'],
  ['duplicates in input, set', '{"a":1,"b":2,"a":3}', 'a', '5'],
  ['index key new', '{"b":1,"2":2,"a":3}', '1', 'true'],
  ['index key new last', '{"b":1,"2":2}', '7', 'true'],
  ['index key zero', '{"b":1,"2":2}', '0', 'false'],
  ['index key existing', '{"b":1,"2":2,"5":5}', '2', '"two"'],
  ['index key max', '{"b":1,"2":2}', '4294967294', '1'],
  ['not an index 2^32-1', '{"b":1,"2":2}', '4294967295', '1'],
  ['not an index 01', '{"b":1,"1":2}', '01', '1'],
  ['not an index -1', '{"b":1,"1":2}', '-1', '1'],
  ['not an index 1.0', '{"b":1,"1":2}', '1.0', '1'],
  ['escaped existing key', '{"\\u0041":1,"b":2}', 'A', '3'],
  ['special key', '{"a":1}', 'q"\\\n\u2028\u0001😀', '"v"'],
  ['empty key', '{"":1,"a":2}', '', '3'],
  ['empty key new', '{"a":2}', '', '3'],
  ['proto key new', '{"a":1}', '__proto__', '{"x":1}'],
  ['proto key existing', '{"__proto__":0,"a":1}', '__proto__', '{"x":1}'],
  ['value normalized', '{"a":1}', 'n', ' [ 1E2 , -0 , 1e400, "\\u0041\\/" ] '],
  ['object normalized', '{ "x" : 1.50 , "y" : "\\u00e9" , "z":{"2":0,"1":1}}', 'w', '0.1'],
  ['nested same key untouched', '{"a":{"k":1},"b":[{"k":2}]}', 'k', '3'],
  ['ownerAddress', '{"id":"x","owner":"AQAB","tags":[],"ownerAddress":"old","z":[]}', 'ownerAddress', '"new"'],
  ['ownerAddress new', '{"id":"x","owner":"AQAB","10":1,"2":true}', 'ownerAddress', '"addr"'],
]) spreadCase(name, input, key, val);
for (let i = 0; i < 80; i++) {
  let doc;
  do doc = randValue(0); while (doc[0] !== '{' || doc.length > 400);
  const keys = Object.keys(JSON.parse(doc)).filter(wellFormed);
  let key = rint(2) && keys.length ? pick(keys) : JSON.parse('"' + pick(keyPool) + '"');
  if (!wellFormed(key)) key = 'k';
  spreadCase(`random ${i}`, ws() + doc + ws(), key, randValue(2));
}

// ---------------------------------------------------------------- write

const lines = (a) => a.map((c) => JSON.stringify(c)).join(',\n');
const text = `{
"generator": "gen_golden.cjs",
"node": ${JSON.stringify(process.version)},
"normalize": [
${lines(normalize)}
],
"invalid": [
${lines(invalid)}
],
"numbers": [
${lines(numbers)}
],
"strings": [
${lines(strings)}
],
"utf8": [
${lines(utf8)}
],
"members": [
${lines(members)}
],
"spread": [
${lines(spread)}
]
}
`;
JSON.parse(text); // sanity
fs.writeFileSync(outPath, text);
console.log(`wrote ${outPath}: ${normalize.length} normalize, ${invalid.length} invalid, ` +
  `${numbers.length} numbers, ${strings.length} strings, ${utf8.length} utf8, ${members.length} members, ` +
  `${spread.length} spread`);
