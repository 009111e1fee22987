// Opens BPMN files the way bpmn.io and Camunda Modeler 7 do (bpmn-moddle with the Camunda
// extension) and prints, per file, the warnings the import reports: unknown elements or
// attributes, unresolved references. Usage: node open_bpmn.mjs FILE...
import { readFile } from "node:fs/promises";
import { BpmnModdle } from "bpmn-moddle";
import camunda from "camunda-bpmn-moddle/resources/camunda.json" with { type: "json" };

const moddle = new BpmnModdle({ camunda });
const report = {};
for (const file of process.argv.slice(2)) {
  const xml = await readFile(file, "utf8");
  try {
    const { rootElement, warnings } = await moddle.fromXML(xml);
    const ids = new Set();
    const walk = (el) => {
      if (el && el.id) ids.add(el.id);
      for (const key of Object.keys(el || {})) {
        const v = el[key];
        if (Array.isArray(v)) v.forEach((x) => x && x.$type && walk(x));
        else if (v && v.$type && key !== "$parent" && !key.startsWith("$")) walk(v);
      }
    };
    walk(rootElement);
    report[file] = { warnings: warnings.map((w) => w.message), elements: ids.size,
                     diagrams: (rootElement.diagrams || []).length };
  } catch (err) {
    report[file] = { error: String(err && err.message || err) };
  }
}
console.log(JSON.stringify(report));
