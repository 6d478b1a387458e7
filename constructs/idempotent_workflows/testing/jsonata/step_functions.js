'use strict';
// JSONata as Step Functions evaluates it, for the local engine of idempotent-workflows: npm
// jsonata 2.0.6 (the version Step Functions implements), the functions Step Functions adds,
// and no $eval. One long-lived process; evaluator.py talks to it in JSON lines.
//
// Run as `node step_functions.js NODE_MODULES`, NODE_MODULES holding jsonata. First line
// written: {"ready": {"node": version, "jsonata": version}}. Then one reply per request line:
//
//   {"bindings": {...}, "fields": [[location, template], ...], "input"?: doc, "allowNothing"?: true}
//     -> {"values": [...]} (one value per field; with allowNothing, "nothing": [indices] of
//        the fields that are one expression evaluating to nothing, whose value is null)
//   {"bindings": {...}, "choices": {"rules": [[condition, fields], ...], "otherwise": fields}}
//     -> {"chosen": i or -1, "values": [...]} (the conditions in order until one is true; the
//        values of that rule's fields, or of "otherwise" when none is)
//   any request that fails -> {"failure": {"error", "cause", "location"}} (the first field)
//   a bug here -> {"crash": stack}
//
// "bindings" are the variables by name, without "$" ("states" and the workflow's variables),
// the same for every field of the request: one request is what one state evaluates at one
// moment. A template is a JSON value; a string "{% expression %}" in it is evaluated (Step
// Functions' rule), any other value is kept; a location names where a value sits in its state
// as Step Functions names it ("Output/a/b[0]"). "input", the document "$" refers to, is for the
// conformance suite only: Step Functions binds none.
//
// Kept as Step Functions documents it: "Transforming data with JSONata in Step Functions"
// (https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
const crypto = require('node:crypto');
const path = require('node:path');
const readline = require('node:readline');


const QUERY_EVALUATION_ERROR = 'States.QueryEvaluationError';
const EXPRESSION = /^\{%(.*)%\}$/s;
const HASH_INPUT_LIMIT = 10000;
const RANGE_LIMIT = 1000;
const HASH_ALGORITHMS = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};
// Parsed expressions, kept: a state machine has a fixed set. Emptied past this many.
const COMPILED_LIMIT = 10000;

// -- the functions Step Functions adds ------------------------------------------------------

function fail(message) {
  throw { code: QUERY_EVALUATION_ERROR, message };
}

function isInteger(value) {
  return typeof value === 'number' && Number.isInteger(value);
}

// $hash(value, algorithm): hex digest of the string's UTF-8 bytes; at most 10,000 characters
// (UTF-16 code units, JavaScript's length).
function hash(value, algorithm) {
  if (value.length > HASH_INPUT_LIMIT) {
    fail(`$hash takes at most ${HASH_INPUT_LIMIT} characters, got ${value.length}`);
  }
  if (!Object.hasOwn(HASH_ALGORITHMS, algorithm)) {
    fail(`$hash does not know the algorithm ${algorithm}`);
  }
  return crypto.createHash(HASH_ALGORITHMS[algorithm]).update(value, 'utf8').digest('hex');
}

// $partition(array, size): consecutive chunks of size; the last may be shorter.
function partition(array, size) {
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

// $random(seed?): a number in [0, 1); the same seed gives the same number. Step Functions does
// not document its generator; with a seed this is the first nextDouble() of Java's
// java.util.Random(seed) (its documented 48-bit linear congruential generator), which a third
// party reports AWS to answer ($random(42) = 0.7275636800328681; docs/engine.md).
const MULTIPLIER = 0x5deece66dn;
const MASK = (1n << 48n) - 1n;
function random(seed) {
  if (seed === undefined) return Math.random();
  if (!isInteger(seed)) fail('$random takes an integer seed');
  let state = (BigInt.asIntN(64, BigInt(seed)) ^ MULTIPLIER) & MASK;
  const next = (bits) => {
    state = (state * MULTIPLIER + 0xbn) & MASK;
    return state >> BigInt(48 - bits);
  };
  return Number((next(26) << 27n) + next(27)) / 2 ** 53;
}

// $parse(text): the JSON value the text holds.
function parse(text) {
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(`$parse could not parse its argument: ${error.message}`);
  }
}

// Step Functions leaves $eval out: calling it is calling something that is not a function.
function noEval() {
  throw { code: 'T1006', message: 'Attempted to invoke a non-function' };
}

const FUNCTIONS = [
  ['hash', hash, '<ss:s>'],
  ['partition', partition, '<an:a>'],
  ['range', range, '<nnn:a<n>>'],
  ['random', random, '<n?:n>'],
  ['uuid', () => crypto.randomUUID(), '<:s>'],
  ['parse', parse, '<s:x>'],
  ['eval', noEval],
];

// -- evaluation -------------------------------------------------------------------------------

let jsonata; // loaded from the folder named on the command line
const compiled = new Map();

function compile(expression) {
  let parsed = compiled.get(expression);
  if (parsed === undefined) {
    parsed = jsonata(expression);
    for (const [name, implementation, signature] of FUNCTIONS) {
      parsed.registerFunction(name, implementation, signature);
    }
    if (compiled.size >= COMPILED_LIMIT) compiled.clear();
    compiled.set(expression, parsed);
  }
  return parsed;
}

// Why a field failed, in Step Functions' words.
class Failure {
  constructor(expression, location, what) {
    this.location = location;
    this.cause =
      `The JSONata expression '${expression}' specified for the field '${location}' ${what}`;
  }
}

class Nothing extends Failure {
  constructor(expression, location) {
    super(expression, location, 'returned nothing (undefined).');
  }
}

function isFunction(value) {
  return (
    typeof value === 'function' ||
    (value !== null &&
      typeof value === 'object' &&
      (value._jsonata_lambda === true || value._jsonata_function === true))
  );
}

// The JSON value of a result. A function is not one. Neither is a number that is not finite
// (1/0): written as JavaScript names it, as a third party reports AWS to (docs/engine.md).
function plain(value, expression, location) {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (isFunction(value)) {
    throw new Failure(expression, location, 'returned an unsupported result type.');
  }
  if (Array.isArray(value)) return value.map((item) => plain(item, expression, location));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .filter((key) => value[key] !== undefined)
        .map((key) => [key, plain(value[key], expression, location)]),
    );
  }
  return value;
}

async function evaluateExpression(expression, location, bindings, input) {
  let value;
  try {
    value = await compile(expression).evaluate(input, bindings);
  } catch (error) {
    const code = error.code ?? error.name;
    throw new Failure(
      expression,
      location,
      `threw an error during evaluation. ${code}: ${error.message}`,
    );
  }
  if (value === undefined) throw new Nothing(expression, location);
  return plain(value, expression, location);
}

async function evaluateTemplate(template, location, bindings, input) {
  if (typeof template === 'string') {
    const match = EXPRESSION.exec(template);
    return match ? evaluateExpression(match[1].trim(), location, bindings, input) : template;
  }
  if (Array.isArray(template)) {
    const values = [];
    for (const [index, item] of template.entries()) {
      values.push(await evaluateTemplate(item, `${location}[${index}]`, bindings, input));
    }
    return values;
  }
  if (template !== null && typeof template === 'object') {
    const entries = [];
    for (const [key, item] of Object.entries(template)) {
      entries.push([key, await evaluateTemplate(item, `${location}/${key}`, bindings, input)]);
    }
    return Object.fromEntries(entries);
  }
  return template;
}

async function evaluateFields(fields, bindings, input, nothingAt) {
  const values = [];
  for (const [location, template] of fields) {
    try {
      values.push(await evaluateTemplate(template, location, bindings, input));
    } catch (error) {
      // Only a field that is one expression may be nothing: inside a template it still fails.
      if (!(nothingAt && error instanceof Nothing && error.location === location)) throw error;
      nothingAt.push(values.length);
      values.push(null);
    }
  }
  return values;
}

async function choose({ rules, otherwise }, bindings) {
  for (const [index, [condition, fields]] of rules.entries()) {
    const location = `Choices[${index}]/Condition`;
    const matched = await evaluateTemplate(condition, location, bindings, undefined);
    if (typeof matched !== 'boolean') {
      const expression = (EXPRESSION.exec(condition) ?? [null, String(condition)])[1].trim();
      throw new Failure(expression, location, 'returned an unexpected data type.');
    }
    if (matched) return { chosen: index, values: await evaluateFields(fields, bindings) };
  }
  return { chosen: -1, values: await evaluateFields(otherwise, bindings) };
}

async function answer({ bindings, input, fields, choices, allowNothing }) {
  try {
    if (choices) return await choose(choices, bindings);
    const nothingAt = allowNothing ? [] : undefined;
    const values = await evaluateFields(fields, bindings, input, nothingAt);
    return nothingAt?.length ? { values, nothing: nothingAt } : { values };
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    return {
      failure: { error: QUERY_EVALUATION_ERROR, cause: error.cause, location: error.location },
    };
  }
}

async function serve(nodeModules) {
  jsonata = require(path.join(nodeModules, 'jsonata'));
  const { version } = require(path.join(nodeModules, 'jsonata', 'package.json'));
  process.stdout.write(JSON.stringify({ ready: { node: process.version, jsonata: version } }) + '\n');
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    let reply;
    try {
      reply = await answer(JSON.parse(line));
    } catch (error) {
      reply = { crash: String(error && error.stack ? error.stack : error) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  }
}

// The differential tests' reference evaluates with the same functions, in-process.
module.exports = { FUNCTIONS };

if (require.main === module) serve(path.resolve(process.argv[2]));
