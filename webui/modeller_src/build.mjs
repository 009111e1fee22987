// Builds the modeller bundle (bpmn-js Modeler, properties panel, bpmnlint) from npm packages into
// webui/static/modeller/ (not kept in git). Run by `./run setup` when package.json or this folder changes.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "static", "modeller");

await build({
  entryPoints: { modeller: path.join(here, "index.js"), "modeller-styles": path.join(here, "styles.css") },
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: false,
  format: "iife",
  target: ["es2019"],
  legalComments: "linked",
  loader: { ".woff": "file", ".woff2": "file", ".eot": "file", ".ttf": "file", ".svg": "file" },
  assetNames: "[name]-[hash]",
  logLevel: "warning",
});
