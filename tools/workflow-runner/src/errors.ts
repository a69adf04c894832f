/** Errors of the workflow runner: an expression it cannot evaluate, a workflow it cannot run. */

/** An expression the evaluator cannot parse or evaluate; names the expression and where it is. */
export class ExpressionError extends Error {
  constructor(
    readonly expression: string,
    readonly reason: string,
  ) {
    super(`cannot evaluate \${{ ${expression} }}: ${reason}`);
    this.name = 'ExpressionError';
  }
}

/** The workflow asks for something this runner cannot do (unknown action, missing `needs`, …). */
export class WorkflowRunnerError extends Error {
  constructor(message: string, readonly hint: string) {
    super(`${message}. ${hint}`);
    this.name = 'WorkflowRunnerError';
  }
}
