import type { BuildImageTargetOptions } from '../../lib/pipeline/build-image';
import type { ScanImageTargetOptions } from '../../lib/pipeline/scan-image';

/** The step a target of the image executor runs: `docker-build` and `scan` are its two targets. */
export type ImageStep = 'build' | 'scan';

// Each step's use case owns its options; the executor takes either step's, and says which.
export type BuildOptions = BuildImageTargetOptions;
export type ScanOptions = ScanImageTargetOptions;

export interface StepOption {
  /** What this target does: build (the docker-build target) or scan (the scan target). */
  step: ImageStep;
}

export type ImageExecutorSchema = StepOption & BuildOptions & ScanOptions;
