// Type-checks a Grafana dashboard JSON file against the Dashboard type
// published in @grafana/schema, and each panel's options against its
// panel plugin's Options type, with the TypeScript compiler.
//
//   node check.mjs DASHBOARD.json
//
// The JSON is pasted into a generated .ts file as an object literal, so
// TypeScript's excess-property checks reject unknown fields. Grafana's
// string enums (ThresholdsMode, MappingType, ...) are widened to their
// values, since JSON carries the value, not the enum member.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2];
if (!file) {
  console.error('usage: node check.mjs DASHBOARD.json');
  process.exit(2);
}
const dashboard = JSON.parse(fs.readFileSync(file, 'utf8'));

const cfg = '@grafana/schema/dist/esm/raw/composable';
const optionTypes = {
  stat: `${cfg}/stat/panelcfg/x/StatPanelCfg_types.gen`,
  table: `${cfg}/table/panelcfg/x/TablePanelCfg_types.gen`,
  timeseries: `${cfg}/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen`,
};

let src = `import type { Dashboard } from '@grafana/schema';\n`;
for (const [type, mod] of Object.entries(optionTypes)) {
  src += `import type { Options as ${type}Options } from '${mod}';\n`;
}
src += `
type Json<T> = T extends string ? \`\${T}\` : T extends number | boolean | null | undefined ? T
  : T extends Array<infer U> ? Array<Json<U>> : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
export const dashboard: Json<Dashboard> = ${JSON.stringify(dashboard, null, 2)};
`;
for (const p of dashboard.panels ?? []) {
  if (!(p.type in optionTypes)) {
    console.error(`panel ${p.id}: no options type known for panel type ${p.type}`);
    process.exit(1);
  }
  src += `export const panel${p.id}: Json<${p.type}Options> = ${JSON.stringify(p.options)};\n`;
}

const out = path.join(here, '.check.ts');
fs.writeFileSync(out, src);
try {
  const program = ts.createProgram([out], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
  });
  const diags = ts.getPreEmitDiagnostics(program);
  if (diags.length > 0) {
    console.error(ts.formatDiagnosticsWithColorAndContext(diags, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => here,
      getNewLine: () => '\n',
    }));
    process.exit(1);
  }
  console.log(`${file}: valid against @grafana/schema Dashboard and ${Object.keys(optionTypes).join(', ')} options`);
} finally {
  fs.rmSync(out, { force: true });
}
