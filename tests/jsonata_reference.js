'use strict';
// The reference JSONata for the differential tests: npm jsonata 2.0.6 (the version Step
// Functions documents) with the functions Step Functions adds, written from AWS's descriptions.
//
// Protocol, one JSON document per line: read an array of {"expression", "bindings"} (and
// "input", the document "$" refers to, which Step Functions leaves undefined); write an array of
// outcomes in the same order, each {"value": v}, {"undefined": true} or {"error": {"code",
// "message"}}. Bindings are the variables by name, without "$".
const crypto = require('node:crypto');
const readline = require('node:readline');
const jsonata = require('jsonata');

const HASH_INPUT_LIMIT = 10000;
const RANGE_LIMIT = 1000;
const HASH_ALGORITHMS = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

function fail(message) {
  throw { code: 'States.QueryEvaluationError', message };
}

function isInteger(value) {
  return typeof value === 'number' && Number.isInteger(value);
}

// $hash(value, algorithm): hex digest of the string's UTF-8 bytes; at most 10,000 characters.
function hash(value, algorithm) {
  if (typeof value !== 'string') fail('$hash takes a string as its first argument');
  if (value.length > HASH_INPUT_LIMIT) {
    fail(`$hash takes at most ${HASH_INPUT_LIMIT} characters, got ${value.length}`);
  }
  if (!(algorithm in HASH_ALGORITHMS)) fail(`$hash does not know the algorithm ${algorithm}`);
  return crypto.createHash(HASH_ALGORITHMS[algorithm]).update(value, 'utf8').digest('hex');
}

// $partition(array, chunkSize): consecutive chunks; the last one may be shorter.
function partition(array, size) {
  if (!Array.isArray(array)) fail('$partition takes an array as its first argument');
  if (!isInteger(size) || size <= 0) fail('$partition takes a positive integer chunk size');
  const chunks = [];
  for (let start = 0; start < array.length; start += size) {
    chunks.push(array.slice(start, start + size));
  }
  return chunks;
}

// $range(start, end, step): integers from start to end inclusive, at most 1,000 of them.
function range(start, end, step) {
  if (![start, end, step].every(isInteger) || step === 0) {
    fail('$range takes integers start, end and a non-zero step');
  }
  const values = [];
  for (let value = start; step > 0 ? value <= end : value >= end; value += step) {
    if (values.length === RANGE_LIMIT) fail(`$range returns at most ${RANGE_LIMIT} values`);
    values.push(value);
  }
  return values;
}

// $random(seed?): a number in [0, 1); the same seed gives the same number (mulberry32 here:
// Step Functions does not document its generator, so only the shape can be compared).
function random(seed) {
  if (seed === undefined) return Math.random();
  if (!isInteger(seed)) fail('$random takes an integer seed');
  let state = (seed + 0x6d2b79f5) | 0;
  state = Math.imul(state ^ (state >>> 15), state | 1);
  state ^= state + Math.imul(state ^ (state >>> 7), state | 61);
  return ((state ^ (state >>> 14)) >>> 0) / 4294967296;
}

// $parse(text): the JSON value that the text holds.
function parse(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(`$parse could not parse its argument: ${error.message}`);
  }
}

function noEval() {
  fail('Step Functions does not support $eval; use $parse');
}

const FUNCTIONS = [
  ['hash', hash, '<ss:s>'],
  ['partition', partition, '<an:a>'],
  ['range', range, '<nnn:a<n>>'],
  ['random', random, '<n?:n>'],
  ['uuid', () => crypto.randomUUID(), '<:s>'],
  ['parse', parse, '<s:x>'],
  ['eval', noEval, '<x-o?:x>'],
];

const compiled = new Map();

function compile(expression) {
  if (!compiled.has(expression)) {
    const parsed = jsonata(expression);
    for (const [name, implementation, signature] of FUNCTIONS) {
      parsed.registerFunction(name, implementation, signature);
    }
    compiled.set(expression, parsed);
  }
  return compiled.get(expression);
}

async function evaluate({ expression, bindings, input }) {
  try {
    const value = await compile(expression).evaluate(input, bindings);
    return value === undefined ? { undefined: true } : { value };
  } catch (error) {
    return { error: { code: String(error.code ?? error.name), message: String(error.message) } };
  }
}

async function serve() {
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    const outcomes = [];
    for (const request of JSON.parse(line)) outcomes.push(await evaluate(request));
    process.stdout.write(JSON.stringify(outcomes) + '\n');
  }
}

serve();
