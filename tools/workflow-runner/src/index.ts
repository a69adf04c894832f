/**
 * A GitHub Actions emulator for tests: runs one job of a workflow on this machine the way the
 * hosted runner would, with stand-ins for remote actions. See runner.ts.
 */
export { ExpressionError, WorkflowRunnerError } from './errors';
export { evaluateCondition, evaluateExpression, evaluateTemplate, interpolate, parseExpression, stringify, truthy, type ExprValue, type ExpressionContext } from './expressions';
export { parseFileCommands } from './file-commands';
export * from './runner';
export * from './stand-ins';
export { artifactStore, sarifProblems, uploadSarif, type ArtifactStore } from './artifacts';
export { hashFiles, matchFiles } from './glob';
