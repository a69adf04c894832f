import { WorkflowRunnerError } from './errors';

/** `name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks, as the runner reads them. */
export function parseFileCommands(text: string, file: string): Array<[string, string]> {
  const lines = text.split(/\r?\n/);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const heredoc = /^([^=]+?)<<(.+)$/.exec(line);
    const eq = line.indexOf('=');
    if (heredoc && (eq < 0 || eq > line.indexOf('<<'))) {
      const [, name, delimiter] = heredoc;
      const body: string[] = [];
      i++;
      while (i < lines.length && lines[i] !== delimiter) body.push(lines[i++]);
      if (i >= lines.length) throw new WorkflowRunnerError(`${file}: no closing delimiter "${delimiter}" for ${name}`, 'End a name<<DELIMITER block with a line holding only DELIMITER');
      out.push([name, body.join('\n')]);
    } else if (eq > 0) {
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    } else {
      throw new WorkflowRunnerError(`${file}: cannot read the line ${JSON.stringify(line)}`, 'Write name=value or name<<DELIMITER lines');
    }
  }
  return out;
}
