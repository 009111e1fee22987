// The "字段权限" (field permissions) group of a user task: every form field of the diagram (the
// request's start form and each task's form), each editable, read-only or hidden at this step. The
// engine reads them from the task's Camunda extension properties `readonlyFields` and `hiddenFields`
// (comma-separated field ids); a field of the task's own form can be made read-only, not hidden.
// Changes go through the command stack (Ctrl+Z undoes them); a list left empty removes its property.
import { isSelectEntryEdited, SelectEntry } from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

export const ACCESS_GROUP_ID = "Xiezuo__FieldAccess";
const NAMES = { readonly: "readonlyFields", hidden: "hiddenFields" };

function extensionValues(businessObject) {
  const extensions = businessObject.get("extensionElements");
  return (extensions && extensions.get("values")) || [];
}

function formFields(businessObject) {
  const data = extensionValues(businessObject).find((value) => is(value, "camunda:FormData"));
  return (data && data.get("fields")) || [];
}

function definitionsOf(businessObject) {
  let found = businessObject;
  while (found && !is(found, "bpmn:Definitions")) {
    found = found.$parent;
  }
  return found;
}

// Every form field of the diagram, the request's first: [{id, label, own}].
export function diagramFields(element) {
  const businessObject = getBusinessObject(element);
  const own = new Set(formFields(businessObject).map((f) => f.get("id")));
  const found = new Map();
  const visit = (container) => {
    (container.get("flowElements") || []).forEach((node) => {
      if (is(node, "bpmn:StartEvent") || is(node, "bpmn:UserTask")) {
        formFields(node).forEach((f) => {
          const id = f.get("id");
          if (id && !found.has(id)) {
            found.set(id, { id, label: f.get("label") || id, own: own.has(id), start: is(node, "bpmn:StartEvent") });
          }
        });
      }
      if (is(node, "bpmn:SubProcess")) {
        visit(node);
      }
    });
  };
  const definitions = definitionsOf(businessObject);
  ((definitions && definitions.get("rootElements")) || []).filter((r) => is(r, "bpmn:Process")).forEach(visit);
  return [...found.values()].sort((a, b) => Number(b.start) - Number(a.start));
}

function accessProperty(businessObject, how) {
  const properties = extensionValues(businessObject).find((value) => is(value, "camunda:Properties"));
  const values = (properties && properties.get("values")) || [];
  return values.find((p) => p.get("name") === NAMES[how]);
}

function listed(businessObject, how) {
  const property = accessProperty(businessObject, how);
  return ((property && property.get("value")) || "").split(",").map((v) => v.trim()).filter(Boolean);
}

export function accessOf(businessObject, fieldId) {
  if (listed(businessObject, "hidden").includes(fieldId)) {
    return "hidden";
  }
  return listed(businessObject, "readonly").includes(fieldId) ? "readonly" : "";
}

// The commands that give `fieldId` the access `how` ("" editable, "readonly", "hidden") at `element`.
function accessCommands(element, fieldId, how, bpmnFactory) {
  const businessObject = getBusinessObject(element);
  const commands = [];
  const update = (moddleElement, properties) =>
    commands.push({ cmd: "element.updateModdleProperties", context: { element, moddleElement, properties } });
  let extensions = businessObject.get("extensionElements");
  if (!extensions) {
    extensions = bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
    extensions.$parent = businessObject;
    update(businessObject, { extensionElements: extensions });
  }
  let holder = extensions.get("values").find((value) => is(value, "camunda:Properties"));
  if (!holder) {
    holder = bpmnFactory.create("camunda:Properties", { values: [] });
    holder.$parent = extensions;
    update(extensions, { values: [...extensions.get("values"), holder] });
  }
  let values = [...holder.get("values")];
  Object.keys(NAMES).forEach((kind) => {
    const ids = listed(businessObject, kind).filter((id) => id !== fieldId);
    if (kind === how) {
      ids.push(fieldId);
    }
    const existing = values.find((p) => p.get("name") === NAMES[kind]);
    if (existing && ids.length) {
      update(existing, { value: ids.join(",") });
    } else if (existing) {
      values = values.filter((p) => p !== existing);
    } else if (ids.length) {
      const property = bpmnFactory.create("camunda:Property", { name: NAMES[kind], value: ids.join(",") });
      property.$parent = holder;
      values.push(property);
    }
  });
  update(holder, { values });
  return commands;
}

function AccessEntry(props) {
  const { element, id, field, label, text } = props;
  const commandStack = useService("commandStack");
  const bpmnFactory = useService("bpmnFactory");
  const getValue = () => accessOf(getBusinessObject(element), field.id);
  const setValue = (value) => {
    commandStack.execute("properties-panel.multi-command-executor", accessCommands(element, field.id, value, bpmnFactory));
  };
  const getOptions = () => [
    { value: "", label: text("access-editable") },
    { value: "readonly", label: text("access-readonly") },
    ...(field.own ? [] : [{ value: "hidden", label: text("access-hidden") }]),
  ];
  return SelectEntry({ element, id, label, getValue, setValue, getOptions });
}

// The group for a user task, or null for any other element.
export function fieldAccessGroup(element, text) {
  if (!is(element, "bpmn:UserTask")) {
    return null;
  }
  const entries = diagramFields(element).map((field) => ({
    id: "xiezuoAccess-" + field.id,
    field,
    text,
    label: field.label.split(/[（(]/)[0].trim() + (field.label === field.id ? "" : " · " + field.id),
    component: AccessEntry,
    isEdited: isSelectEntryEdited,
  }));
  return { id: ACCESS_GROUP_ID, label: text("field-access"), entries };
}
