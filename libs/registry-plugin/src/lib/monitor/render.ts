import type { MonitorThresholds } from './options';
import type { MonitorReport } from './report';
import { renderHtml } from './render-html';
import { renderPrometheus } from './render-prometheus';
import { renderJson, renderMarkdown, renderText } from './render-text';

export type MonitorFormat = 'text' | 'json' | 'markdown' | 'prometheus' | 'html';
export const MONITOR_FORMATS: readonly MonitorFormat[] = ['text', 'json', 'markdown', 'prometheus', 'html'];

export function renderReport(report: MonitorReport, format: MonitorFormat, thresholds: MonitorThresholds): string {
  switch (format) {
    case 'text':
      return renderText(report) + '\n';
    case 'json':
      return renderJson(report) + '\n';
    case 'markdown':
      return renderMarkdown(report);
    case 'prometheus':
      return renderPrometheus(report);
    case 'html':
      return renderHtml(report, thresholds);
    default: {
      const unhandled: never = format;
      throw new Error(`unknown format ${String(unhandled)}`);
    }
  }
}
