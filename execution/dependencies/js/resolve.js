// The module edges of a TS/JS tree as the TypeScript compiler itself resolves them: the
// ground truth of execution/dependencies (ground_truth.py). Prints JSON:
// {"files": [...], "edges": [{"from", "to", "line", "specifier"}], "config": path|null}
// with paths relative to the root; packages (node_modules) are not project edges.
// Usage: node resolve.js ROOT [CONFIG]
"use strict";
const path = require("path");
const ts = require("typescript");

const root = path.resolve(process.argv[2]);
const given = process.argv[3] ? path.resolve(process.argv[3]) : null;

function fail(message) {
  process.stderr.write(message + "\n");
  process.exit(2);
}

function findConfig() {
  for (const name of ["tsconfig.json", "jsconfig.json"]) {
    const candidate = path.join(root, name);
    if (ts.sys.fileExists(candidate)) return candidate;
  }
  return null;
}

const config = given || findConfig();
let fileNames;
let options;
if (config) {
  const host = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) =>
      fail(ts.flattenDiagnosticMessageText(d.messageText, "\n")),
  };
  // A jsconfig.json is a tsconfig.json with allowJs on (as editors read it).
  const defaults = path.basename(config) === "jsconfig.json" ? { allowJs: true } : {};
  const parsed = ts.getParsedCommandLineOfConfigFile(config, defaults, host);
  if (!parsed) fail(`cannot read ${config}`);
  fileNames = parsed.fileNames;
  options = parsed.options;
} else {
  // No config: every source file, JavaScript too, with the compiler's default options.
  fileNames = ts.sys.readDirectory(root, [".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs"],
    ["**/node_modules"], undefined);
  options = { allowJs: true };
}
options = { ...options, noEmit: true, types: [] };

const program = ts.createProgram({ rootNames: fileNames, options });
const relative = (file) => path.relative(root, file).split(path.sep).join("/");
const inProject = (file) => {
  const rel = relative(file);
  return !rel.startsWith("..") && !path.isAbsolute(rel) && !rel.split("/").includes("node_modules");
};
const files = [];
const edges = [];
for (const sourceFile of program.getSourceFiles()) {
  if (!inProject(sourceFile.fileName)) continue;
  const from = relative(sourceFile.fileName);
  files.push(from);
  // `imports`: every module specifier the compiler resolves for the file (import, export
  // from, import type, import(), import x = require(), and require() in JavaScript).
  for (const specifier of sourceFile.imports || []) {
    const resolution = program.getResolvedModuleFromModuleSpecifier(specifier, sourceFile);
    const resolved = resolution && resolution.resolvedModule;
    if (!resolved || resolved.isExternalLibraryImport || !inProject(resolved.resolvedFileName)) {
      continue;
    }
    const line = sourceFile.getLineAndCharacterOfPosition(specifier.getStart(sourceFile)).line + 1;
    edges.push({ from, to: relative(resolved.resolvedFileName), line, specifier: specifier.text });
  }
}
files.sort();
process.stdout.write(JSON.stringify({ files, edges, config: config && relative(config) }));
