// bpmnlint's rules as the linter in the browser resolves them (what bpmnlint-loader would generate).
import adHocSubProcess from "bpmnlint/rules/ad-hoc-sub-process";
import conditionalFlows from "bpmnlint/rules/conditional-flows";
import endEventRequired from "bpmnlint/rules/end-event-required";
import eventBasedGateway from "bpmnlint/rules/event-based-gateway";
import fakeJoin from "bpmnlint/rules/fake-join";
import labelRequired from "bpmnlint/rules/label-required";
import linkEvent from "bpmnlint/rules/link-event";
import noComplexGateway from "bpmnlint/rules/no-complex-gateway";
import noDisconnected from "bpmnlint/rules/no-disconnected";
import noDuplicateSequenceFlows from "bpmnlint/rules/no-duplicate-sequence-flows";
import noImplicitEnd from "bpmnlint/rules/no-implicit-end";
import noImplicitSplit from "bpmnlint/rules/no-implicit-split";
import noImplicitStart from "bpmnlint/rules/no-implicit-start";
import noInclusiveGateway from "bpmnlint/rules/no-inclusive-gateway";
import singleEventDefinition from "bpmnlint/rules/single-event-definition";
import startEventRequired from "bpmnlint/rules/start-event-required";
import subProcessBlankStartEvent from "bpmnlint/rules/sub-process-blank-start-event";
import superfluousGateway from "bpmnlint/rules/superfluous-gateway";

const RULES = {
  "ad-hoc-sub-process": [adHocSubProcess, "error"],
  "conditional-flows": [conditionalFlows, "error"],
  "end-event-required": [endEventRequired, "error"],
  "event-based-gateway": [eventBasedGateway, "error"],
  "fake-join": [fakeJoin, "warn"],
  // Merging gateways of the product diagrams carry no label: a hint, not an error.
  "label-required": [labelRequired, "warn"],
  "link-event": [linkEvent, "error"],
  "no-complex-gateway": [noComplexGateway, "error"],
  "no-disconnected": [noDisconnected, "error"],
  "no-duplicate-sequence-flows": [noDuplicateSequenceFlows, "error"],
  "no-implicit-end": [noImplicitEnd, "error"],
  "no-implicit-split": [noImplicitSplit, "error"],
  "no-implicit-start": [noImplicitStart, "error"],
  "no-inclusive-gateway": [noInclusiveGateway, "warn"],
  "single-event-definition": [singleEventDefinition, "error"],
  "start-event-required": [startEventRequired, "error"],
  "sub-process-blank-start-event": [subProcessBlankStartEvent, "error"],
  "superfluous-gateway": [superfluousGateway, "warn"],
};

const cache = {};
const rules = {};
for (const [name, [rule, level]] of Object.entries(RULES)) {
  cache["bpmnlint/" + name] = rule;
  rules[name] = level;
}

const resolver = {
  resolveRule(pkg, ruleName) {
    const rule = cache[pkg + "/" + ruleName];
    if (!rule) {
      throw new Error("cannot resolve rule <" + pkg + "/" + ruleName + ">");
    }
    return rule;
  },
  resolveConfig(pkg, configName) {
    throw new Error("cannot resolve config <" + configName + "> in <" + pkg + ">");
  },
};

export default { config: { rules }, resolver };
