// The modeller in the page's language: bpmn-js, its properties panel and the Camunda entries from
// the community's zh-CN tables (bpmn-js-i18n-zh), plus what they leave out: bpmnlint's rule
// messages and its status button. English pages keep bpmn-js's own English. A text no table knows
// stays as written, so a newer library version shows English rather than nothing.
import bpmnZh from "bpmn-js-i18n-zh/lib/bpmn-js/index.js";
import camundaZh from "bpmn-js-i18n-zh/lib/camunda-properties-panel/index.js";
import panelZh from "bpmn-js-i18n-zh/lib/properties-panel/index.js";

// bpmnlint's messages of the rules lint-config.js turns on, and the linting button's own texts.
const LINT_ZH = {
  "No Issues": "没有问题",
  "{errors} Errors, {warnings} Warnings": "{errors} 个错误，{warnings} 个警告",
  "Toggle linting overlays": "显示或隐藏检查标记",
  "Issues for child elements": "子元素的问题",
  "A <Start Event> is not allowed in <Ad Hoc Sub Process>": "自由子流程（Ad Hoc）中不能有开始事件",
  "An <End Event> is not allowed in <Ad Hoc Sub Process>": "自由子流程（Ad Hoc）中不能有结束事件",
  "Sequence flow is missing condition": "顺序流缺少条件",
  "Process is missing end event": "流程缺少结束事件",
  "Sub process is missing end event": "子流程缺少结束事件",
  "Process is missing start event": "流程缺少开始事件",
  "Sub process is missing start event": "子流程缺少开始事件",
  "Process has multiple blank start events": "流程有多个空白开始事件",
  "Sub process has multiple blank start events": "子流程有多个空白开始事件",
  "An <Event-based Gateway> must have at least 2 outgoing <Sequence Flows>": "事件网关至少要有 2 条流出的顺序流",
  "A <Sequence Flow> outgoing from an <Event-based Gateway> must not be conditional": "事件网关流出的顺序流不能带条件",
  "Incoming flows do not join": "多条流入的顺序流没有经网关汇合",
  "Element is missing label/name": "元素缺少名称",
  "Link event is missing link name": "链接事件缺少链接名称",
  "Element type <bpmn:ComplexGateway> is discouraged": "不建议使用复杂网关",
  "Element type <bpmn:InclusiveGateway> is discouraged": "不建议使用包容网关",
  "Element is not connected": "元素没有连线",
  "SequenceFlow is a duplicate": "重复的顺序流",
  "Duplicate outgoing sequence flows": "流出的顺序流重复",
  "Duplicate incoming sequence flows": "流入的顺序流重复",
  "Element is an implicit end": "元素隐式结束（请连到结束事件）",
  "Element is an implicit start": "元素隐式开始（请从开始事件连入）",
  "Flow splits implicitly": "顺序流隐式分支（请使用网关）",
  "Event has multiple event definitions": "事件有多个事件定义",
  "Start event must be blank": "子流程的开始事件必须是空白事件",
  "Gateway is superfluous. It only has one source and target.": "网关多余：只有一个来源和一个去向",
};

// Element types the panel's header names that the tables leave out.
const TYPES_ZH = {
  "Event Based Gateway": "事件网关",
  "Sub Process": "子流程",
  "Boundary Event": "边界事件",
  "Intermediate Catch Event": "中间捕获事件",
  "Intermediate Throw Event": "中间抛出事件",
  "Participant": "池（参与者）",
  "Lane": "泳道",
  "Process": "流程",
  "Text Annotation": "文本注释",
  "Group": "分组",
  "Collaboration": "协作",
};

// Messages whose words carry a name: matched by pattern, the name kept.
const LINT_PATTERNS_ZH = [
  [/^Duplicate link catch event with link name <(.*)> in scope$/, "同一范围内链接名称“$1”的捕获事件重复"],
  [/^Link (catch|throw) event with link name <(.*)> missing in scope$/, "同一范围内缺少链接名称为“$2”的对应链接事件"],
];

function fill(template, replacements) {
  return template.replace(/{([^}]+)}/g, (all, key) => (replacements && key in replacements ? replacements[key] : all));
}

export function translator(language) {
  const zh = /^zh/i.test(language || "");
  const table = zh ? { ...bpmnZh, ...panelZh, ...camundaZh, ...TYPES_ZH, ...LINT_ZH } : {};
  const patterns = zh ? LINT_PATTERNS_ZH : [];
  return function translate(template, replacements) {
    // the panel's header writes an element's type in title case ("User Task"), the tables in sentence case
    let text = table[template] ?? table[template.charAt(0) + template.slice(1).toLowerCase()];
    if (text === undefined) {
      const found = patterns.find(([pattern]) => pattern.test(template));
      text = found ? template.replace(found[0], found[1]) : template;
    }
    return fill(text, replacements);
  };
}

// The module that replaces bpmn-js's own `translate` (identity in English).
export default function translateModule(language) {
  return { translate: ["value", translator(language)] };
}
