// A field's label without the guidance in brackets.
function short(field) {
  return (field.get("label") || field.get("id")).split(/[（(]/)[0].trim();
}

// The options of a setting that names a decision "field=option" of the step's choice fields.
function decisionOptions(fields, none) {
  return [
    { value: "", label: none },
    ...fields.filter((f) => f.get("type") === "enum").flatMap((f) => (f.get("values") || []).map((v) => ({
      value: f.get("id") + "=" + v.get("id"), label: short(f) + " = " + (v.get("name") || v.get("id")) }))),
  ];
}

// The "字段权限" (field permissions) group of a user task: every form field of the diagram (the
// request's start form and each task's form), each editable, read-only or hidden at this step. The
// engine reads them from the task's Camunda extension properties `readonlyFields` and `hiddenFields`
// (comma-separated field ids); a field of the task's own form can be made read-only, not hidden.
// Changes go through the command stack (Ctrl+Z undoes them); a list left empty removes its property.
import {
  CheckboxEntry,
  isCheckboxEntryEdited,
  isSelectEntryEdited,
  isTextFieldEntryEdited,
  SelectEntry,
  TextFieldEntry,
} from "@bpmn-io/properties-panel";
import { useService } from "bpmn-js-properties-panel";
import { getBusinessObject, is } from "bpmn-js/lib/util/ModelUtil";

export const ACCESS_GROUP_ID = "Xiezuo__FieldAccess";
export const BATCH_GROUP_ID = "Xiezuo__Batch";
export const RULES_GROUP_ID = "Xiezuo__ApproverRules";
export const TIMEOUT_GROUP_ID = "Xiezuo__Timeout";
export const VOTE_GROUP_ID = "Xiezuo__Vote";
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

// The commands that set the task's Camunda extension properties `changes` ({name: value}; an empty
// value removes the property), creating what holds them when missing.
function propertyCommands(element, changes, bpmnFactory, target) {
  const businessObject = target || getBusinessObject(element);
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
  Object.entries(changes).forEach(([name, value]) => {
    const existing = values.find((p) => p.get("name") === name);
    if (existing && value) {
      update(existing, { value });
    } else if (existing) {
      values = values.filter((p) => p !== existing);
    } else if (value) {
      const property = bpmnFactory.create("camunda:Property", { name, value });
      property.$parent = holder;
      values.push(property);
    }
  });
  update(holder, { values });
  return commands;
}

function propertyValue(businessObject, name) {
  const properties = extensionValues(businessObject).find((value) => is(value, "camunda:Properties"));
  const found = ((properties && properties.get("values")) || []).find((p) => p.get("name") === name);
  return (found && found.get("value")) || "";
}

// The commands that give `fieldId` the access `how` ("" editable, "readonly", "hidden") at `element`.
function accessCommands(element, fieldId, how, bpmnFactory) {
  const businessObject = getBusinessObject(element);
  const changes = {};
  Object.keys(NAMES).forEach((kind) => {
    const ids = listed(businessObject, kind).filter((id) => id !== fieldId);
    if (kind === how) {
      ids.push(fieldId);
    }
    changes[NAMES[kind]] = ids.join(",");
  });
  return propertyCommands(element, changes, bpmnFactory);
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

// 批量审批: which choice a batch gives this step (batchDecision "field=option") and which text field
// takes the batch's one comment (batchComment); no decision, no batch.
function BatchEntry(props) {
  const { element, id, label, name, getOptions } = props;
  const commandStack = useService("commandStack");
  const bpmnFactory = useService("bpmnFactory");
  const getValue = () => propertyValue(getBusinessObject(element), name);
  const setValue = (value) => {
    const changes = { [name]: value };
    if (name === "batchDecision" && !value) {
      changes.batchComment = ""; // no batch, no comment field
    }
    commandStack.execute("properties-panel.multi-command-executor", propertyCommands(element, changes, bpmnFactory));
  };
  return SelectEntry({ element, id, label, getValue, setValue, getOptions });
}

export function batchGroup(element, text) {
  if (!is(element, "bpmn:UserTask")) {
    return null;
  }
  const fields = formFields(getBusinessObject(element));
  const decisions = () => decisionOptions(fields, text("batch-none"));
  const comments = () => [
    { value: "", label: text("batch-no-comment") },
    ...fields.filter((f) => ["string", "text"].includes(f.get("type"))).map((f) => ({ value: f.get("id"), label: short(f) })),
  ];
  const nobody = () => [
    { value: "", label: text("no-assignee-admins") },
    { value: "superior", label: text("no-assignee-superior") },
    { value: "skip", label: text("no-assignee-skip") },
  ];
  const entries = [
    { id: "xiezuoNoAssignee", name: "noAssignee", label: text("no-assignee"), getOptions: nobody,
      component: BatchEntry, isEdited: isSelectEntryEdited },
    { id: "xiezuoBatchDecision", name: "batchDecision", label: text("batch-decision"), getOptions: decisions,
      component: BatchEntry, isEdited: isSelectEntryEdited },
  ];
  if (propertyValue(getBusinessObject(element), "batchDecision")) {
    entries.push({ id: "xiezuoBatchComment", name: "batchComment", label: text("batch-comment"), getOptions: comments,
                   component: BatchEntry, isEdited: isSelectEntryEdited });
  }
  return { id: BATCH_GROUP_ID, label: text("batch"), entries };
}

// The process's own approver rule: a step whose approver just completed the step before passes.
function processOf(element) {
  const businessObject = getBusinessObject(element);
  if (is(element, "bpmn:Participant")) {
    return businessObject.get("processRef");
  }
  return is(element, "bpmn:Process") ? businessObject : null;
}

function AutoPassEntry(props) {
  const { element, id, label, description } = props;
  const commandStack = useService("commandStack");
  const bpmnFactory = useService("bpmnFactory");
  const process = processOf(element);
  const getValue = () => propertyValue(process, "autoPassSameApprover") === "true";
  const setValue = (value) => {
    commandStack.execute("properties-panel.multi-command-executor",
      propertyCommands(element, { autoPassSameApprover: value ? "true" : "" }, bpmnFactory, process));
  };
  return CheckboxEntry({ element, id, label, description, getValue, setValue });
}

export function processRulesGroup(element, text) {
  if (!processOf(element)) {
    return null;
  }
  return {
    id: RULES_GROUP_ID,
    label: text("approver-rules"),
    entries: [{ id: "xiezuoAutoPass", label: text("auto-pass"), description: text("auto-pass-help"),
                component: AutoPassEntry, isEdited: isCheckboxEntryEdited }],
  };
}

// 超时处理: what happens to a task left `timeoutAfter` working days (the Chinese calendar).
function PropertyText(props) {
  const { element, id, label, description, name } = props;
  const commandStack = useService("commandStack");
  const bpmnFactory = useService("bpmnFactory");
  const debounce = useService("debounceInput");
  const getValue = () => propertyValue(getBusinessObject(element), name);
  const setValue = (value) => {
    commandStack.execute("properties-panel.multi-command-executor",
      propertyCommands(element, { [name]: (value || "").trim() }, bpmnFactory));
  };
  return TextFieldEntry({ element, id, label, description, getValue, setValue, debounce });
}

export function timeoutGroup(element, text) {
  if (!is(element, "bpmn:UserTask")) {
    return null;
  }
  const businessObject = getBusinessObject(element);
  const action = propertyValue(businessObject, "timeoutAction");
  const fields = formFields(businessObject);
  const actions = () => [
    { value: "", label: text("timeout-none") },
    { value: "approve", label: text("timeout-approve") },
    { value: "reject", label: text("timeout-reject") },
    { value: "superior", label: text("timeout-superior") },
    { value: "group", label: text("timeout-group") },
  ];
  const rejects = () => decisionOptions(fields, "—");
  const entries = [
    { id: "xiezuoTimeoutAction", name: "timeoutAction", label: text("timeout-action"), getOptions: actions,
      component: BatchEntry, isEdited: isSelectEntryEdited },
  ];
  if (action) {
    entries.push({ id: "xiezuoTimeoutAfter", name: "timeoutAfter", label: text("timeout-after"),
                   description: text("timeout-after-help"), component: PropertyText, isEdited: isTextFieldEntryEdited });
  }
  if (action === "reject") {
    entries.push({ id: "xiezuoTimeoutReject", name: "timeoutReject", label: text("timeout-reject-with"),
                   getOptions: rejects, component: BatchEntry, isEdited: isSelectEntryEdited });
  }
  if (action === "group") {
    entries.push({ id: "xiezuoTimeoutGroup", name: "timeoutGroup", label: text("timeout-group-name"),
                   component: PropertyText, isEdited: isTextFieldEntryEdited });
  }
  return { id: TIMEOUT_GROUP_ID, label: text("timeout"), entries };
}

// 会签 / 或签: how a parallel multi-instance approval closes (engine/bpmn/voting.py).
function parallelLoop(businessObject) {
  const loop = businessObject.get("loopCharacteristics");
  return loop && is(loop, "bpmn:MultiInstanceLoopCharacteristics") && !loop.get("isSequential");
}

export function voteGroup(element, text) {
  const businessObject = getBusinessObject(element);
  if (!is(element, "bpmn:UserTask") || !parallelLoop(businessObject)) {
    return null;
  }
  const rule = propertyValue(businessObject, "voteRule");
  const fields = formFields(businessObject);
  const rules = () => [
    { value: "", label: text("vote-none") },
    { value: "all", label: text("vote-all") },
    { value: "any", label: text("vote-any") },
    { value: "ratio", label: text("vote-ratio") },
  ];
  const agrees = () => decisionOptions(fields, "—");
  const rejections = () => [
    { value: "counted", label: text("vote-counted") },
    { value: "first", label: text("vote-first") },
  ];
  const entries = [
    { id: "xiezuoVoteRule", name: "voteRule", label: text("vote-rule"), getOptions: rules,
      component: BatchEntry, isEdited: isSelectEntryEdited },
  ];
  if (rule) {
    if (rule === "ratio") {
      entries.push({ id: "xiezuoVoteRatio", name: "voteRatio", label: text("vote-share"),
                     description: text("vote-share-help"), component: PropertyText, isEdited: isTextFieldEntryEdited });
    }
    entries.push({ id: "xiezuoVoteAgree", name: "voteAgree", label: text("vote-agree"), getOptions: agrees,
                   component: BatchEntry, isEdited: isSelectEntryEdited });
    entries.push({ id: "xiezuoVoteRejection", name: "voteRejection", label: text("vote-rejection"),
                   getOptions: rejections, component: BatchEntry, isEdited: isSelectEntryEdited });
  }
  return { id: VOTE_GROUP_ID, label: text("vote"), entries };
}
