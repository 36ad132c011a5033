// Lint Cypher statements with Neo4j's own linter (@neo4j-cypher/language-support).
//
// stdin:  JSON array of query strings.
// stdout: JSON array (same order) of diagnostics arrays:
//   {severity: "error"|"warning"|"information"|"hint", deprecated: bool, message,
//    line, col (both 1-based), offset (0-based character offset)}
//
// Options (argv):
//   --no-registry      do not load Neo4j's built-in function/procedure registry; then unknown
//                      functions and procedures are not reported (default: loaded, so
//                      `foo()` or a FalkorDB-only procedure is an error).
//   --cypher=5|25      Cypher version to lint as (default 5; a `CYPHER 25` prefix overrides).
//
// The schema has no labels/relationship types/property keys, so unknown labels are not
// reported. "Parameter $x is not defined." is dropped: every statement takes $params.
import { lintCypherQuery, isNotParamError, testData } from '@neo4j-cypher/language-support';

const SEVERITY = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };
const DEPRECATED_TAG = 2; // vscode-languageserver DiagnosticTag.Deprecated

function parseArgs(argv) {
  const opts = { registry: true, cypher: '5' };
  for (const arg of argv) {
    if (arg === '--no-registry') opts.registry = false;
    else if (arg.startsWith('--cypher=')) opts.cypher = arg.slice('--cypher='.length);
    else throw new Error(`unknown option ${arg}`);
  }
  if (!['5', '25'].includes(opts.cypher)) throw new Error(`unknown Cypher version ${opts.cypher}`);
  return opts;
}

function schemaFor(opts) {
  const schema = { defaultLanguage: `CYPHER ${opts.cypher}` };
  if (opts.registry) {
    // The package ships the built-in function/procedure registry of a current Neo4j as
    // testData.mockSchema; only those two parts are used (no labels, types or keys).
    schema.functions = testData.mockSchema.functions;
    schema.procedures = testData.mockSchema.procedures;
  }
  return schema;
}

function convert(d) {
  return {
    severity: SEVERITY[d.severity] ?? String(d.severity),
    deprecated: (d.tags ?? []).includes(DEPRECATED_TAG) || /deprecat/i.test(d.message),
    message: d.message,
    line: d.range ? d.range.start.line + 1 : null,
    col: d.range ? d.range.start.character + 1 : null,
    offset: d.offsets ? d.offsets.start : null,
  };
}

function lintOne(query, schema) {
  try {
    const { diagnostics } = lintCypherQuery(query, schema);
    const seen = new Set();
    const out = [];
    for (const d of diagnostics.filter(isNotParamError).map(convert)) {
      const k = JSON.stringify(d);
      if (!seen.has(k)) { seen.add(k); out.push(d); }
    }
    return out;
  } catch (e) {
    return [{ severity: 'error', deprecated: false, message: `linter crashed: ${e}`, line: null, col: null, offset: null }];
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const opts = parseArgs(process.argv.slice(2));
const queries = JSON.parse(await readStdin());
if (!Array.isArray(queries) || !queries.every((q) => typeof q === 'string')) {
  throw new Error('stdin must be a JSON array of strings');
}
const schema = schemaFor(opts);
process.stdout.write(JSON.stringify(queries.map((q) => lintOne(q, schema))));
