import { alertSummary, monitorOptionsFromNxJson, monitorRegistry, MONITOR_FORMATS } from '../../lib/monitor';
import { flag, type Command } from '../command';
import { readWorkspace } from '../workspace';

/** Exit code when a metric crossed its alert level: 3, like every other policy block. */
export const ALERT_EXIT_CODE = 3;

export const monitorCommand: Command = {
  summary: 'Registry health against the thresholds: size, vulnerabilities, storage, push success, pull latency.',
  help: [
    'usage: auren-registry monitor [--format text|json|markdown|prometheus|html] [--output FILE]',
    '                              [--window 7d] [--concurrency 16]',
    '',
    'Measures the configured registry (nx.json plugin options, AUREN_REGISTRY overrides) against',
    'the monitor thresholds and exits 3 when any metric crosses its alert level, naming it.',
    '',
    'options:',
    `  --format       ${MONITOR_FORMATS.join(' | ')} (default text)`,
    '  --output       write the report to FILE (atomically) instead of stdout',
    '  --window       push-history window for the success rate: 30m, 24h, 7d, 2w (default 7d)',
    '  --concurrency  registry requests in flight (default 16)',
    '',
    'examples:',
    '  auren-registry monitor',
    '  auren-registry monitor --format markdown >> "$GITHUB_STEP_SUMMARY"',
    '  auren-registry monitor --format prometheus --output /var/lib/node_exporter/textfile/auren.prom',
    '  auren-registry monitor --format html --output dist/monitor/report.html --window 30d',
  ].join('\n'),
  async run(args, io) {
    const { nxJson, config } = readWorkspace(io.cwd, io.env);
    const concurrency = flag(args, 'concurrency');
    const outcome = await monitorRegistry({
      config,
      monitor: monitorOptionsFromNxJson(nxJson),
      workspaceRoot: io.cwd,
      env: io.env,
      format: flag(args, 'format'),
      outputFile: flag(args, 'output'),
      window: flag(args, 'window'),
      concurrency: concurrency === undefined ? undefined : Number(concurrency),
      log: (line) => io.stderr(line + '\n'),
    });
    if (outcome.written) io.stderr(`report written to ${outcome.written}\n`);
    else io.stdout(outcome.rendered);
    const summary = alertSummary(outcome.alerts);
    if (summary.length) io.stderr(summary.join('\n') + '\n');
    return summary.length ? ALERT_EXIT_CODE : 0;
  },
};
