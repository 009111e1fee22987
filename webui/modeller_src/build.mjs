// Builds the modeller bundle (bpmn-js Modeler, properties panel, bpmnlint) from npm packages into
// webui/static/modeller/ (not kept in git). Run by `./run setup` when package.json or this folder changes.
import { build } from "esbuild";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "static", "modeller");

// The page's Content-Security-Policy allows no inline styles: the properties panel's container gets
// its height from modeller.css instead of a style attribute in its markup.
const INLINE_STYLE = '<div style="height: 100%" tabindex="-1" class="bio-properties-panel-container">';
const noInlineStyles = {
  name: "no-inline-styles",
  setup(b) {
    b.onLoad({ filter: /bpmn-js-properties-panel[\\/]dist[\\/]index\.esm\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      if (!source.includes(INLINE_STYLE)) {
        throw new Error("bpmn-js-properties-panel changed its container markup: check " + args.path);
      }
      return {
        contents: source.replace(INLINE_STYLE, '<div tabindex="-1" class="bio-properties-panel-container">'),
        loader: "js",
      };
    });
  },
};

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
  plugins: [noInlineStyles],
});
