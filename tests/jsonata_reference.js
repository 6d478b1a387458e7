'use strict';
// The reference for the differential tests: npm jsonata 2.0.6 (the version Step Functions
// implements), called directly, in this process. Run as
//   node jsonata_reference.js            bare jsonata 2.0.6 (the conformance suite)
//   node jsonata_reference.js FUNCTIONS  with the functions Step Functions adds, taken from
//                                        the engine's own script FUNCTIONS (one copy of them;
//                                        their own tests check them against documented values)
// The engine evaluates through its Python client, JSON lines and its template walker; this
// evaluates jsonata(expression).evaluate(input, bindings) and nothing else.
//
// Protocol, one JSON document per line: read an array of {"expression", "bindings"} (and
// "input", the document "$" refers to, which Step Functions leaves undefined); write an array of
// outcomes in the same order, each {"value": v}, {"undefined": true} or {"error": {"code",
// "message"}}. Bindings are the variables by name, without "$".
const readline = require('node:readline');
const jsonata = require('jsonata');

const functions = process.argv[2] ? require(process.argv[2]).FUNCTIONS : [];
const compiled = new Map();

function compile(expression) {
  if (!compiled.has(expression)) {
    const parsed = jsonata(expression);
    for (const [name, implementation, signature] of functions) {
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
