// What the properties panel adds for the engine: the multi-instance data it reads (multi-instance.js),
// only the Camunda groups and entries it reads (engine-groups.js),
// and the "脚本" (Scripts) group: the spiffworkflow:preScript and spiffworkflow:postScript
// an activity runs before it starts and after it completes, and, on a multi-instance activity, whether
// they run on each instance (spiffworkflow:scriptsOnInstances). The Camunda panel knows none of them.
// Every change goes through the command stack, so Ctrl+Z / Ctrl+Y undo and redo it; a script cleared
// to nothing removes its element (and an extensionElements left empty).
import { CheckboxEntry, isCheckboxEntryEdited, isTextAreaEntryEdited, TextAreaEntry } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";
import { keepWhatTheEngineReads } from "./engine-groups.js";
import { batchGroup, fieldAccessGroup, processRulesGroup, timeoutGroup, voteGroup } from "./field-access.js";
import { updateMultiInstanceGroup } from "./multi-instance.js";

export const GROUP_ID = "Xiezuo__Scripts";
const SCRIPTS = [
  { id: "spiffPreScript", type: "spiffworkflow:PreScript", key: "prescript" },
  { id: "spiffPostScript", type: "spiffworkflow:PostScript", key: "postscript" },
];

function findScript(businessObject, type) {
  const extensions = businessObject.get("extensionElements");
  return ((extensions && extensions.get("values")) || []).find((value) => is(value, type));
}

function multiInstance(businessObject) {
  const loop = businessObject.get("loopCharacteristics");
  return loop && is(loop, "bpmn:MultiInstanceLoopCharacteristics") ? loop : null;
}

// The commands that make the script of `type` read `value`: update it, create it (and the
// extensionElements holding it), or remove it when `value` is blank.
function scriptCommands(element, type, value, bpmnFactory) {
  const businessObject = getBusinessObject(element);
  const existing = findScript(businessObject, type);
  let extensions = businessObject.get("extensionElements");
  const blank = !value || !value.trim();
  if (existing && !blank) {
    return [{ cmd: "element.updateModdleProperties", context: { element, moddleElement: existing, properties: { value } } }];
  }
  if (existing) {
    const rest = extensions.get("values").filter((each) => each !== existing);
    if (rest.length) {
      return [{ cmd: "element.updateModdleProperties", context: { element, moddleElement: extensions, properties: { values: rest } } }];
    }
    return [
      { cmd: "element.updateModdleProperties", context: { element, moddleElement: extensions, properties: { values: [] } } },
      { cmd: "element.updateModdleProperties", context: { element, moddleElement: businessObject, properties: { extensionElements: undefined } } },
    ];
  }
  if (blank) {
    return [];
  }
  const commands = [];
  if (!extensions) {
    extensions = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    extensions.$parent = businessObject;
    commands.push({
      cmd: "element.updateModdleProperties",
      context: { element, moddleElement: businessObject, properties: { extensionElements: extensions } },
    });
  }
  const script = bpmnFactory.create(type, { value });
  script.$parent = extensions;
  commands.push({
    cmd: "element.updateModdleProperties",
    context: { element, moddleElement: extensions, properties: { values: [...extensions.get("values"), script] } },
  });
  return commands;
}

function ScriptEntry(props) {
  const { element, id, type, label, description } = props;
  const commandStack = useService("commandStack");
  const bpmnFactory = useService("bpmnFactory");
  const debounce = useService("debounceInput");
  const getValue = () => {
    const script = findScript(getBusinessObject(element), type);
    return (script && script.get("value")) || "";
  };
  const setValue = (value) => {
    const commands = scriptCommands(element, type, value, bpmnFactory);
    if (commands.length) {
      commandStack.execute("properties-panel.multi-command-executor", commands);
    }
  };
  return TextAreaEntry({ element, id, label, description, getValue, setValue, debounce, monospace: true, rows: 4 });
}

function OnInstancesEntry(props) {
  const { element, id, label, description } = props;
  const commandStack = useService("commandStack");
  const loop = multiInstance(getBusinessObject(element));
  const getValue = () => !!loop.get("spiffworkflow:scriptsOnInstances");
  const setValue = (value) => {
    commandStack.execute("element.updateModdleProperties", {
      element,
      moddleElement: loop,
      properties: { "spiffworkflow:scriptsOnInstances": value ? true : undefined },
    });
  };
  return CheckboxEntry({ element, id, label, description, getValue, setValue });
}

export class ScriptsPropertiesProvider {
  constructor(propertiesPanel, config) {
    // `config.text(key)` gives the page's text for a label in the reader's language.
    this.text = (config && config.text) || ((key) => key);
    propertiesPanel.registerProvider(400, this); // after the Camunda provider (500): its groups exist
  }

  getGroups(element) {
    return (groups) => {
      keepWhatTheEngineReads(groups);
      const rules = processRulesGroup(element, this.text);
      if (rules) {
        groups.push(rules); // the process's approver rule, on the process or its pool
      }
      if (!is(element, "bpmn:Activity")) {
        return groups;
      }
      updateMultiInstanceGroup(groups, element, this.text);
      const entries = SCRIPTS.map(({ id, type, key }) => ({
        id,
        type,
        label: this.text(key),
        description: this.text(key + "-help"),
        component: ScriptEntry,
        isEdited: isTextAreaEntryEdited,
      }));
      if (multiInstance(getBusinessObject(element))) {
        entries.push({
          id: "spiffScriptsOnInstances",
          label: this.text("on-instances"),
          description: this.text("on-instances-help"),
          component: OnInstancesEntry,
          isEdited: isCheckboxEntryEdited,
        });
      }
      const access = fieldAccessGroup(element, this.text);
      if (access) {
        groups.push(access); // what this step may do with each field of the request and of its form
        groups.push(batchGroup(element, this.text)); // whether its tasks may be done several at once
        groups.push(timeoutGroup(element, this.text)); // what happens to a task left too long
        const vote = voteGroup(element, this.text);
        if (vote) {
          groups.push(vote); // how a parallel approval by several people closes
        }
      }
      const group = { id: GROUP_ID, label: this.text("scripts"), entries };
      groups.push(group); // last, after the form, the assignment and the other groups the engine reads
      return groups;
    };
  }
}
ScriptsPropertiesProvider.$inject = ["propertiesPanel", "config.xiezuoScripts"];

export default {
  __init__: ["xiezuoScriptsProvider"],
  xiezuoScriptsProvider: ["type", ScriptsPropertiesProvider],
};
