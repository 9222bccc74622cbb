/**
 * What a Dockerfile copies from the build context, against what `.dockerignore` leaves in it:
 * a COPY (or ADD) whose source the context lacks stops every build at that step. The
 * patterns follow Docker's own rules (moby's patternmatcher): one per line, `#` comments,
 * Go `filepath.Match` globs plus `**`, `!` for exceptions, the last matching pattern winning,
 * and a file is left out when it or a folder above it is.
 */

interface Pattern {
  exclude: boolean;
  regex: RegExp;
}

/** The regular expression of one cleaned pattern (Go glob syntax, `**` for any folders). */
function patternRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` is any number of folders (none included); a trailing `**`, anything below.
      if (pattern[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`.dockerignore: unterminated [ in ${JSON.stringify(pattern)}`);
      const body = pattern.slice(i + 1, end).replace(/^\^/, '!');
      out += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) out += `\\${pattern[++i]}`;
    else out += /[.+^${}()|\\/]/.test(c) ? `\\${c}` : c;
  }
  return new RegExp(`^${out}$`);
}

/** The patterns of a `.dockerignore` text, in order. */
export function parseDockerignore(text: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclude = !line.startsWith('!');
    if (!exclude) line = line.slice(1).trim();
    // As Docker cleans them: no leading slash or ./, no trailing slash, no doubled slashes.
    line = line.replace(/^\/+/, '').replace(/^(\.\/)+/, '').replace(/\/+$/, '').replace(/\/{2,}/g, '/');
    if (line === '' || line === '.') continue;
    patterns.push({ exclude, regex: patternRegex(line) });
  }
  return patterns;
}

/** Whether `path` (relative to the context, with `/`) is left out of the build context. */
export function ignored(patterns: Pattern[], path: string): boolean {
  const parts = path.split('/');
  let out = false;
  for (const p of patterns) {
    // A pattern matches the path or any folder above it.
    const hit = parts.some((_, i) => p.regex.test(parts.slice(0, i + 1).join('/')));
    if (hit) out = p.exclude;
  }
  return out;
}

/** The context paths each COPY and ADD of a Dockerfile reads (not those copied from a stage or an image). */
export function copiedSources(dockerfile: string): { line: number; source: string }[] {
  const found: { line: number; source: string }[] = [];
  const lines = dockerfile.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let text = lines[i]!;
    while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!.trim()}`;
    const m = /^\s*(COPY|ADD)\s+(.*)$/i.exec(text);
    if (!m) continue;
    let rest = m[2]!.trim();
    const flags: string[] = [];
    while (rest.startsWith('--')) {
      const [flag, ...more] = rest.split(/\s+/);
      flags.push(flag!);
      rest = more.join(' ');
    }
    if (flags.some((f) => f.startsWith('--from='))) continue;
    const args = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
    for (const source of args.slice(0, -1)) {
      if (/^https?:\/\//.test(source)) continue;
      found.push({ line: start + 1, source: source.replace(/^\.\//, '').replace(/\/+$/, '') || '.' });
    }
  }
  return found;
}

/**
 * The problems of a Dockerfile's COPY and ADD sources against the context `files` (every
 * file of the context, relative, with `/`) as `.dockerignore` leaves it: a source that is
 * left out, or a folder of which nothing is left.
 */
export function contextProblems(dockerfile: string, dockerignore: string, files: string[]): string[] {
  const patterns = parseDockerignore(dockerignore);
  const problems: string[] = [];
  for (const { line, source } of copiedSources(dockerfile)) {
    const glob = /[*?[]/.test(source) ? patternRegex(source) : undefined;
    const under = files.filter((f) => (glob ? glob.test(f) : source === '.' || f === source || f.startsWith(`${source}/`)));
    if (under.length === 0) {
      problems.push(`Dockerfile line ${line}: COPY ${source}: no such path in the build context`);
      continue;
    }
    const kept = under.filter((f) => !ignored(patterns, f));
    if (kept.length === 0) problems.push(`Dockerfile line ${line}: COPY ${source}: .dockerignore leaves it out of the build context, so every build stops here`);
  }
  return problems;
}
