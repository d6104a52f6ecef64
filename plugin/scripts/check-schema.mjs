// Validates plugin.json (dist/ by default) against Grafana's own plugin.json schema with ajv, as the
// validator's metadatavalid analyzer does with gojsonschema.
//
// The schema is Grafana's docs/sources/developers/plugins/plugin.schema.json. It is not committed
// here: Grafana's docs/ fall under the repository's default AGPL-3.0-only licence (LICENSING.md)
// and this project copies no other project's text. It is read as shared test material instead:
// $GRAFANA_PLUGIN_SCHEMA, else grafana/plugin.schema.json in the shared directory ($MINEWATCH_SHARED,
// or ../shared beside the repository root). Missing: a skip, and a failure when CI=true.
// No npm package ships the file (looked for in Dec 2026 in @grafana/create-plugin 7.1.7,
// @grafana/plugin-e2e 3.14.0, @grafana/plugin-meta-extractor 0.13.0, @grafana/plugin-validator
// 0.31.0 and @grafana/sign-plugin 3.3.3; then in @grafana/levitate 0.17.2, @grafana/experimental
// 2.1.6, @grafana/scenes 9.2.2, @grafana/e2e-selectors 13.2.3, @grafana/plugin-compat 0.11.0 and
// @grafana/grafana-foundation-sdk 0.0.21; the registry has no @grafana/plugin-types, and its
// package list no @schemastore package for Grafana), so it cannot come from node_modules either.
// `make test` checks both files against @grafana/data's metadata types instead
// (check-plugin-meta.mjs), which is not this schema.
//
// Both plugin.json files of the bundle are checked: the app's and the nested datasource's.
//
//   node scripts/check-schema.mjs [plugin.json ...]
import Ajv from 'ajv';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const repo = path.resolve(root, '..');
const shared = process.env.MINEWATCH_SHARED ?? path.join(repo, '..', 'shared');
const schemaPath = process.env.GRAFANA_PLUGIN_SCHEMA ?? path.join(shared, 'grafana', 'plugin.schema.json');
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : [path.join(root, 'dist', 'plugin.json'), path.join(root, 'dist', 'datasource', 'plugin.json')];

if (!fs.existsSync(schemaPath)) {
  const msg = `check-schema: ${schemaPath} missing (Grafana's plugin.schema.json; see the header of this script)`;
  if (process.env.CI === 'true') {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
  console.log(`skip: ${msg}`);
  process.exit(0);
}
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));
// draft-07, as the schema's $schema says (ajv's default draft).
// unicodeRegExp off: the schema's patterns escape '-', which JavaScript's u flag refuses. Formats
// (email, uri on author and links) are not checked: this plugin.json sets neither.
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false, validateFormats: false });
const validate = ajv.compile(schema);
let failed = 0;
for (const f of files) {
  const data = JSON.parse(fs.readFileSync(f, 'utf8'));
  if (validate(data)) {
    console.log(`ok: ${f} matches ${schemaPath}`);
  } else {
    failed++;
    for (const e of validate.errors) {
      console.log(`FAIL: ${f}: ${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    }
  }
}
process.exit(failed ? 1 : 0);
