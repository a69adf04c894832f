import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { AurenError } from '../../lib/errors/errors';
import { runBatch } from '../shared/batch';
import { runExecutor } from '../shared/context';
import { build } from './build';
import { scan } from './scan';
import schema from './schema.json';
import type { ImageExecutorSchema, ImageStep } from './schema';

/**
 * One executor for building and scanning a project's image: its two inferred targets
 * (plugin/create-nodes.ts) are its two steps. Being one executor is what lets Nx run the builds and
 * scans of an `nx` command in one process (batch mode, shared/batch.ts). docker-push is an executor
 * of its own: a push is never cached, and Nx looks up in its cache a task that reads its
 * dependencies' outputs (docker-build reads the base image's image.json) only when those
 * dependencies in the same batch came from the cache, so a build after its base image's push in
 * one batch would never come from the cache.
 */
const STEPS: Record<ImageStep, (options: ImageExecutorSchema, context: ExecutorContext) => Promise<boolean>> = { build, scan };

/** The target each step is inferred as, to name it in errors. */
const STEP_TARGETS: Record<ImageStep, string> = { build: 'docker-build', scan: 'scan' };

/** The step each option belongs to (`x-step` in schema.json). */
const OPTION_STEPS = schema.properties as Record<string, { 'x-step'?: ImageStep }>;

/** The options' step, after checking that every option given belongs to it. */
export function checkStep(options: Partial<ImageExecutorSchema>): ImageStep {
  const step = options.step;
  if (!step || !(step in STEPS)) {
    throw new AurenError('config', `the image executor needs the option step: "build" or "scan" (got ${JSON.stringify(step)})`, 'Use the docker-build and scan targets the plugin infers, or set step in the target\'s options.');
  }
  const foreign = Object.entries(options)
    .filter(([key, value]) => key !== 'step' && value !== undefined)
    .map(([key]) => ({ key, owner: OPTION_STEPS[key]?.['x-step'] }))
    .filter(({ owner }) => owner !== step);
  if (foreign.length) {
    const owners = foreign.map(({ key, owner }) => (owner ? `--${key} is an option of ${STEP_TARGETS[owner]}` : `--${key} is not an option of docker-build or scan`));
    const [first] = foreign;
    throw new AurenError('input', `${owners.join('; ')}, not of ${STEP_TARGETS[step]}`, `Pass it to the target it belongs to, e.g. nx run <project>:${STEP_TARGETS[first.owner ?? step]} --${first.key}=…`);
  }
  return step;
}

export default async function imageExecutor(options: ImageExecutorSchema, context: ExecutorContext) {
  return runExecutor(() => STEPS[checkStep(options)](options, context));
}

/** Nx's batch implementation: every build and scan of the batch in this one process. */
export function batchImageExecutor(taskGraph: TaskGraph, inputs: Record<string, ImageExecutorSchema>, _overrides: ImageExecutorSchema, context: ExecutorContext) {
  return runBatch(taskGraph, inputs, context, imageExecutor);
}
