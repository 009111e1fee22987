// The multi-instance data the engine reads, in the panel's "Multi-instance" group: the list an
// instance is made for each item of (bpmn:loopDataInputRef), the variable holding that item in each
// instance (bpmn:inputDataItem), and the list collecting each instance's result
// (bpmn:loopDataOutputRef, bpmn:outputDataItem). The Camunda panel offers camunda:collection and
// camunda:elementVariable instead, which the engine ignores; they are left out so nobody fills them in.
// The references point at data the process declares (bpmn:property); a name not declared yet is
// declared on the process. Every change goes through the command stack.
import { isTextFieldEntryEdited, TextFieldEntry } from "@bpmn-io/properties-panel";
import { useCallback } from "@bpmn-io/properties-panel/preact/hooks";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CAMUNDA_ONLY = ["collection", "elementVariable"];
const FIELDS = [
  { id: "spiffLoopInput", property: "loopDataInputRef", kind: "ref", key: "mi-input" },
  { id: "spiffInputItem", property: "inputDataItem", kind: "item", type: "bpmn:DataInput", key: "mi-input-item" },
  { id: "spiffLoopOutput", property: "loopDataOutputRef", kind: "ref", key: "mi-output" },
  { id: "spiffOutputItem", property: "outputDataItem", kind: "item", type: "bpmn:DataOutput", key: "mi-output-item" },
];

function loopOf(element) {
  const loop = getBusinessObject(element).get("loopCharacteristics");
  return loop && is(loop, "bpmn:MultiInstanceLoopCharacteristics") ? loop : null;
}

function processOf(businessObject) {
  let found = businessObject;
  while (found && !is(found, "bpmn:Process")) {
    found = found.$parent;
  }
  return found;
}

function current(loop, field) {
  const value = loop.get(field.property);
  return (value && value.get("id")) || "";
}

// The element that holds `id` in the diagram now, or null: an id stays claimed after the element
// holding it was undone away or replaced.
function holder(moddle, id) {
  const owner = moddle.ids.assigned(id);
  if (!owner || typeof owner !== "object") {
    return null;
  }
  const parent = owner.$parent;
  if (is(owner, "bpmn:DataInput") || is(owner, "bpmn:DataOutput")) {
    return parent && (parent.get("inputDataItem") === owner || parent.get("outputDataItem") === owner) ? owner : null;
  }
  if (is(owner, "bpmn:Property")) {
    return parent && (parent.get("properties") || []).includes(owner) ? owner : null;
  }
  return owner;
}

// Why `value` cannot name the field's data, or null.
function problem(value, loop, field, moddle, text) {
  if (!value) {
    return null;
  }
  if (!NAME.test(value)) {
    return text("mi-bad-name");
  }
  const owner = holder(moddle, value);
  if (!owner || owner === loop.get(field.property)) {
    return null;
  }
  const data = is(owner, "bpmn:ItemAwareElement") && !is(owner, "bpmn:DataInput") && !is(owner, "bpmn:DataOutput");
  return field.kind === "ref" && data ? null : text("mi-taken");
}

function commands(element, loop, field, value, moddle, bpmnFactory) {
  const update = (moddleElement, properties) => ({
    cmd: "element.updateModdleProperties",
    context: { element, moddleElement, properties },
  });
  if (!value) {
    return [update(loop, { [field.property]: undefined })];
  }
  if (field.kind === "item") {
    // A new item rather than a new id on the old one: its id is claimed as it is made, and undo
    // simply puts the old one back.
    const created = bpmnFactory.create(field.type, { id: value, name: value });
    created.$parent = loop;
    return [update(loop, { [field.property]: created })];
  }
  const declared = holder(moddle, value);
  if (declared) {
    return [update(loop, { [field.property]: declared })];
  }
  const process = processOf(getBusinessObject(element));
  const property = bpmnFactory.create("bpmn:Property", { id: value, name: value });
  property.$parent = process;
  return [update(process, { properties: [...process.get("properties"), property] }), update(loop, { [field.property]: property })];
}

function DataEntry(props) {
  const { element, id, field, label, description, text } = props;
  const commandStack = useService("commandStack");
  const bpmnFactory = useService("bpmnFactory");
  const moddle = useService("moddle");
  const debounce = useService("debounceInput");
  const loop = loopOf(element);
  // The same function from render to render: the entry validates its stored value again whenever
  // `validate` changes, which would clear the message about a refused input at once.
  const validate = useCallback((value) => problem((value || "").trim(), loop, field, moddle, text), [loop, field, moddle, text]);
  const setValue = (value, error) => {
    if (error) {
      return;
    }
    commandStack.execute(
      "properties-panel.multi-command-executor",
      commands(element, loop, field, (value || "").trim(), moddle, bpmnFactory),
    );
  };
  return TextFieldEntry({ element, id, label, description, getValue: () => current(loop, field), setValue, validate, debounce });
}

// Replace the Camunda-only entries of the multi-instance group with the engine's.
export function updateMultiInstanceGroup(groups, element, text) {
  const group = groups.find((each) => each.id === "multiInstance");
  if (!group || !loopOf(element)) {
    return;
  }
  const entries = group.entries.filter((entry) => !CAMUNDA_ONLY.includes(entry.id));
  const at = entries.findIndex((entry) => entry.id === "loopCardinality");
  const ours = FIELDS.map((field) => ({
    id: field.id,
    field,
    text,
    label: text(field.key),
    description: text(field.key + "-help"),
    component: DataEntry,
    isEdited: isTextFieldEntryEdited,
  }));
  entries.splice(at < 0 ? 0 : at, 0, ...ours);
  group.entries = entries;
}
