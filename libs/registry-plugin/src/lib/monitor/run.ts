import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AurenConfig } from '../config/options';
import { inputError } from '../errors/errors';
import { parseWindow } from '../history/window';
import { connectRegistry } from '../connect/connect';
import type { RegistryClient } from '../registry/client';
import { runMonitor } from './collect';
import { alerts } from './evaluate';
import { normalizeMonitorOptions, type MonitorOptions } from './options';
import { MONITOR_FORMATS, renderReport, type MonitorFormat } from './render';
import type { Check, MonitorReport } from './report';
import type { StorageUsage } from './storage';

export interface MonitorRequest {
  config: AurenConfig;
  /** The `monitor` section from nx.json. */
  monitor: MonitorOptions | undefined;
  workspaceRoot: string;
  env: NodeJS.ProcessEnv;
  format?: string;
  /** Write the rendered report here (relative to the workspace root) instead of returning it for stdout. */
  outputFile?: string;
  window?: string;
  concurrency?: number;
  /** Overrides for tests and benches; default: `connectRegistry(config, env)`. */
  client?: RegistryClient;
  storageUsage?: StorageUsage;
  log?: (line: string) => void;
}

export interface MonitorOutcome {
  report: MonitorReport;
  rendered: string;
  /** Absolute path written, when `outputFile` was given. */
  written?: string;
  alerts: Check[];
}

export function normalizeFormat(value: string | undefined): MonitorFormat {
  const format = (value ?? 'text') as MonitorFormat;
  if (!MONITOR_FORMATS.includes(format)) throw inputError(`unknown format "${value}"`, `Use one of: ${MONITOR_FORMATS.join(', ')}.`);
  return format;
}

/** Normalise → measure → render → write. The executor and the CLI are thin wrappers of this. */
export async function monitorRegistry(request: MonitorRequest): Promise<MonitorOutcome> {
  const format = normalizeFormat(request.format);
  const monitor = normalizeMonitorOptions(
    {
      ...request.monitor,
      ...(request.window !== undefined ? { window: request.window } : {}),
      ...(request.concurrency !== undefined ? { concurrency: request.concurrency } : {}),
    },
    { workspaceRoot: request.workspaceRoot, registry: request.config.registry, env: request.env },
  );
  parseWindow(monitor.window); // fail on a bad window before any request
  const client = request.client ?? (await connectRegistry(request.config, request.env));
  const report = await runMonitor({
    client,
    registry: request.config.registry,
    namespace: request.config.namespace,
    historyRepository: request.config.historyRepository,
    config: monitor,
    workspaceRoot: request.workspaceRoot,
    storageUsage: request.storageUsage,
    log: request.log,
  });
  const rendered = renderReport(report, format, monitor.thresholds);
  let written: string | undefined;
  if (request.outputFile) {
    written = resolve(request.workspaceRoot, request.outputFile);
    await mkdir(dirname(written), { recursive: true });
    // Temp file + rename: node_exporter's textfile collector must never read a half-written file.
    const temp = `${written}.${process.pid}.tmp`;
    await writeFile(temp, rendered);
    await rename(temp, written);
  }
  return { report, rendered, written, alerts: alerts(report.checks) };
}

/** "ALERT: image-size, push-success-rate" plus one line per alert. */
export function alertSummary(found: Check[]): string[] {
  if (!found.length) return [];
  return [`monitor: ${[...new Set(found.map((c) => c.metric))].join(', ')} crossed the alert level`, ...found.map((c) => `  ${c.metric} (${c.subject}): ${c.message}`)];
}
