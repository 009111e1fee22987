// The process owners' modeller: bpmn-js Modeler with the Camunda 7 properties panel (names, lanes,
// form fields, assignment, timers, conditions, scripts, call activities, documentation), our own
// "脚本" group for the spiffworkflow pre- and post-scripts the engine runs, bpmnlint while editing,
// and the engine's own check; a problem is listed and marked on its element.
// Read-only versions open in the navigated viewer. Everything the page needs comes from data-
// attributes of #modeller (no inline script: the Content-Security-Policy allows none).
import BpmnModeler from "bpmn-js/lib/Modeler";
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import CamundaBehaviorsModule from "camunda-bpmn-js-behaviors/lib/camunda-platform";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import lintModule from "bpmn-js-bpmnlint";
import lintConfig from "./lint-config.js";
import ScriptsProviderModule from "./scripts-provider.js";
import translateModule from "./translate.js";
import spiffModdle from "./spiffworkflow.json";

const PROBLEM = "xz-problem";

function text(root, key) {
  return root.getAttribute("data-msg-" + key) || key;
}

function post(url, body, csrf) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(body),
  }).then((response) => response.json().then((data) => ({ ok: response.ok, status: response.status, data })));
}

class Page {
  constructor(root) {
    this.root = root;
    this.csrf = root.getAttribute("data-csrf");
    this.revision = parseInt(root.getAttribute("data-revision") || "0", 10);
    this.filename = root.getAttribute("data-filename") || "diagram.bpmn";
    this.status = root.querySelector("[data-role=status]");
    this.problems = root.querySelector("[data-role=problems]");
    this.marked = [];
    const editing = root.getAttribute("data-mode") === "edit";
    const language = translateModule(document.documentElement.lang);
    const canvas = root.querySelector("[data-role=canvas]");
    this.modeler = editing
      ? new BpmnModeler({
          container: canvas,
          propertiesPanel: { parent: root.querySelector("[data-role=properties]") },
          additionalModules: [
            BpmnPropertiesPanelModule,
            BpmnPropertiesProviderModule,
            CamundaPlatformPropertiesProviderModule,
            CamundaBehaviorsModule,
            ScriptsProviderModule,
            lintModule,
            language,
          ],
          moddleExtensions: { camunda: camundaModdle, spiffworkflow: spiffModdle },
          xiezuoScripts: { text: (key) => text(root, key) },
          linting: { bpmnlint: lintConfig, active: true },
          keyboard: { bind: true }, // Ctrl+F finds an element by name, Ctrl+Z undoes, ...
        })
      : new NavigatedViewer({
          container: canvas,
          additionalModules: [language],
          moddleExtensions: { camunda: camundaModdle, spiffworkflow: spiffModdle },
        });
    this.editing = editing;
  }

  say(message, kind) {
    this.status.textContent = message;
    this.status.setAttribute("data-kind", kind || "info");
  }

  load() {
    return fetch(this.root.getAttribute("data-source"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then((response) => {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then((data) => this.modeler.importXML(data.xml))
      .then(() => {
        this.modeler.get("canvas").zoom("fit-viewport");
        this.root.classList.add("ready");
        if (this.editing) {
          this.wire();
        }
      })
      .catch((error) => {
        this.root.classList.add("failed");
        this.say(text(this.root, "failed") + " " + error.message, "error");
      });
  }

  wire() {
    const bus = this.modeler.get("eventBus");
    let changes = 0;
    bus.on("commandStack.changed", () => {
      this.root.setAttribute("data-dirty", "true");
      this.root.setAttribute("data-changes", String(++changes)); // each edit, undo and redo counts
      this.say(text(this.root, "unsaved"));
    });
    bus.on("linting.completed", (event) => {
      const issues = event.issues || {};
      let errors = 0;
      let warnings = 0;
      Object.values(issues).forEach((list) =>
        list.forEach((issue) => (issue.category === "error" ? errors++ : warnings++)),
      );
      this.root.setAttribute("data-lint-errors", String(errors));
      this.root.setAttribute("data-lint-warnings", String(warnings));
    });
    this.button("save", () => this.save());
    this.button("check", () => this.check());
    this.button("deploy", () => this.deploy());
    this.button("download", () => this.download());
  }

  button(role, action) {
    const found = this.root.querySelector("[data-action=" + role + "]");
    if (found) {
      found.addEventListener("click", (event) => {
        event.preventDefault();
        action();
      });
    }
  }

  xml() {
    return this.modeler.saveXML({ format: true }).then((result) => result.xml);
  }

  save() {
    return this.xml().then((xml) =>
      post(this.root.getAttribute("data-save"), { xml, revision: this.revision }, this.csrf).then((answer) => {
        if (!answer.ok) {
          this.say(answer.data.message || "HTTP " + answer.status, "error");
          return false;
        }
        this.revision = answer.data.revision;
        this.root.setAttribute("data-revision", String(this.revision));
        this.root.removeAttribute("data-dirty");
        this.say(text(this.root, "saved"), "ok");
        return true;
      }),
    );
  }

  check() {
    this.say(text(this.root, "checking"));
    return this.xml().then((xml) =>
      post(this.root.getAttribute("data-check"), { xml, filename: this.filename }, this.csrf).then((answer) => {
        const problems = (answer.data && answer.data.problems) || [];
        this.show(problems);
        this.say(problems.length ? text(this.root, "invalid") : text(this.root, "valid"), problems.length ? "error" : "ok");
        return problems.length === 0;
      }),
    );
  }

  deploy() {
    return this.save().then((saved) => {
      if (!saved) {
        return;
      }
      this.say(text(this.root, "deploying"));
      return post(this.root.getAttribute("data-deploy"), { revision: this.revision }, this.csrf).then((answer) => {
        if (!answer.ok) {
          this.show(answer.data.problems || []);
          this.say(text(this.root, "refused") + " " + (answer.data.problems ? "" : answer.data.message || ""), "error");
          return;
        }
        this.show([]);
        window.location.assign(answer.data.next);
      });
    });
  }

  download() {
    return this.xml().then((xml) => {
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
      link.download = this.filename;
      document.body.appendChild(link);
      link.click();
      link.remove();
    });
  }

  show(problems) {
    const canvas = this.modeler.get("canvas");
    const registry = this.modeler.get("elementRegistry");
    this.marked.forEach((id) => registry.get(id) && canvas.removeMarker(id, PROBLEM));
    this.marked = [];
    this.problems.textContent = "";
    problems.forEach((problem) => {
      const item = document.createElement("li");
      const where = [problem.element_id, problem.line ? text(this.root, "line") + " " + problem.line : ""]
        .filter(Boolean)
        .join(" · ");
      if (problem.element_id && registry.get(problem.element_id)) {
        canvas.addMarker(problem.element_id, PROBLEM);
        this.marked.push(problem.element_id);
        const link = document.createElement("a");
        link.href = "#";
        link.textContent = where;
        link.setAttribute("data-element", problem.element_id);
        link.addEventListener("click", (event) => {
          event.preventDefault();
          const element = registry.get(problem.element_id);
          this.modeler.get("selection").select(element);
          canvas.scrollToElement(element);
        });
        item.appendChild(link);
        item.appendChild(document.createTextNode(" "));
      } else if (where) {
        item.appendChild(document.createTextNode(where + " "));
      }
      const message = document.createElement("span");
      message.textContent = problem.message;
      item.appendChild(message);
      this.problems.appendChild(item);
    });
    this.root.setAttribute("data-problems", this.marked.join(" "));
    this.problems.closest("section").hidden = problems.length === 0;
  }
}

const root = document.getElementById("modeller");
if (root) {
  new Page(root).load();
}
