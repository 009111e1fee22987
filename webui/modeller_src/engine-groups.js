// The Camunda 7 panel shows what a Camunda engine runs; Xiezuo's engine reads only part of it (see
// engine/bpmn/parser.py and forms.py): the form (formKey, formData), the assignment (assignee,
// candidate users and groups, due date, priority), conditions, timers, scripts and the called process.
// Whatever else a process owner filled in would be kept in the file and silently do nothing, so those
// groups and entries are left out of the panel. What a diagram already holds of them is not touched.

// Groups of which the engine reads nothing.
export const UNREAD_GROUPS = [
  "CamundaPlatform__AsynchronousContinuations",
  "CamundaPlatform__BusinessKey",
  "CamundaPlatform__CandidateStarter",
  "CamundaPlatform__ConnectorInput",
  "CamundaPlatform__ConnectorOutput",
  "CamundaPlatform__Errors",
  "CamundaPlatform__ExecutionListener",
  "CamundaPlatform__ExtensionProperties",
  "CamundaPlatform__ExternalTask",
  "CamundaPlatform__FieldInjection",
  "CamundaPlatform__HistoryCleanup",
  "CamundaPlatform__Implementation",
  "CamundaPlatform__InMapping",
  "CamundaPlatform__InMappingPropagation",
  "CamundaPlatform__Input",
  "CamundaPlatform__JobExecution",
  "CamundaPlatform__OutMapping",
  "CamundaPlatform__OutMappingPropagation",
  "CamundaPlatform__Output",
  "CamundaPlatform__StartInitiator",
  "CamundaPlatform__TaskListener",
  "CamundaPlatform__Tasklist",
];

// Groups the engine reads in part: the entries it reads (every other entry is left out).
export const READ_ENTRIES = {
  CamundaPlatform__UserAssignment: ["assignee", "candidateGroups", "candidateUsers", "dueDate", "priority"],
  CamundaPlatform__CallActivity: ["calledElementType", "calledElement"],
};

// `groups` without what the engine does not read (in place, as the panel's providers work).
export function keepWhatTheEngineReads(groups) {
  for (let i = groups.length - 1; i >= 0; i--) {
    const group = groups[i];
    if (UNREAD_GROUPS.includes(group.id)) {
      groups.splice(i, 1);
    } else if (READ_ENTRIES[group.id] && group.entries) {
      group.entries = group.entries.filter((entry) => READ_ENTRIES[group.id].includes(entry.id));
    }
  }
  return groups;
}
