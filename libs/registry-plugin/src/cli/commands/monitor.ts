import { alertSummary, monitorOptionsFromNxJson, monitorRegistry } from '../../lib/monitor';
import type { MonitorExecutorSchema } from '../../executors/monitor/schema';
import schema from '../../executors/monitor/schema.json';
import type { Command } from '../command';
import { readWorkspace } from '../workspace';

/** Exit code when a metric crossed its alert level: 3, like every other policy block. */
export const ALERT_EXIT_CODE = 3;

export const monitorCommand: Command = {
  summary: 'Registry health against the thresholds: size, vulnerabilities, storage, push success, pull latency.',
  spec: {
    schema,
    about: [
      'Measures the configured registry (nx.json plugin options, AUREN_REGISTRY overrides) against',
      'the monitor thresholds and exits 3 when any metric crosses its alert level, naming it.',
    ],
    examples: [
      'auren-registry monitor',
      'auren-registry monitor --format markdown >> "$GITHUB_STEP_SUMMARY"',
      'auren-registry monitor --format prometheus --output /var/lib/node_exporter/textfile/auren.prom',
      'auren-registry monitor --format html --output dist/monitor/report.html --window 30d',
    ],
  },
  async run({ options }, io) {
    const { nxJson, config } = readWorkspace(io.cwd, io.env);
    const { format, output, window, concurrency } = options as MonitorExecutorSchema;
    const outcome = await monitorRegistry({
      config,
      monitor: monitorOptionsFromNxJson(nxJson),
      workspaceRoot: io.cwd,
      env: io.env,
      format,
      outputFile: output,
      window,
      concurrency,
      log: (line) => io.stderr(line + '\n'),
    });
    if (outcome.written) io.stderr(`report written to ${outcome.written}\n`);
    else io.stdout(outcome.rendered);
    const summary = alertSummary(outcome.alerts);
    if (summary.length) io.stderr(summary.join('\n') + '\n');
    return summary.length ? ALERT_EXIT_CODE : 0;
  },
};
