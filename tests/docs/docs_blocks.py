#!/usr/bin/env python3
"""Extract the shell commands of the fenced code blocks of Markdown files.

Used by tests/docs/docs_commands.sh; the convention is described there and
at the end of README.md ("Conventions of these docs"):

  ```sh        every line is shell, run as one script with set -e
  ```console   lines starting with "$ " are commands (a line ending in "\\"
               continues on the next line), each must exit 0; every other
               line is example output, not compared
  ```text, ```c, ```json ...   never run
  ```          (no language) is an error: every block must say what it is

An HTML comment on the line before a block (blank lines allowed between)
changes how it runs:
  <!-- docs-test: skip REASON -->   not run; the reason is reported
  <!-- docs-test: status N -->      the block must exit with status N
  <!-- docs-test: timeout SEC -->   time limit (default 60 s)

usage: docs_blocks.py OUTDIR FILE.md...
Writes OUTDIR/NNN.sh per runnable block and prints one manifest line per
block: NNN<TAB>FILE:LINE<TAB>run|skip<TAB>STATUS<TAB>TIMEOUT<TAB>REASON.
Exit 1 (with a message per problem) on an untagged or malformed block.
"""
import os
import re
import sys

FENCE = re.compile(r'^(```+)\s*([A-Za-z0-9_+-]*)\s*$')
DIRECTIVE = re.compile(r'^<!--\s*docs-test:\s*(skip|status|timeout)\b\s*(.*?)\s*-->\s*$')
RUN_LANGS = ('sh', 'console')


def blocks(path):
    """Yield (line, lang, body_lines, directives) for each fenced block."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    pending = {}
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            d = DIRECTIVE.match(lines[i].strip())
            if d:
                pending[d.group(1)] = d.group(2)
            elif lines[i].strip():
                pending = {}
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i + 1
        body = []
        i += 1
        while i < len(lines) and lines[i].rstrip() != fence:
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise ValueError('%s:%d: code block never closed' % (path, start))
        yield start, lang, body, pending
        pending = {}
        i += 1


def console_commands(body):
    cmds, cur = [], None
    for ln in body:
        if cur is not None:
            cur.append(ln)
            if not ln.endswith('\\'):
                cmds.append('\n'.join(cur))
                cur = None
        elif ln.startswith('$ '):
            if ln.endswith('\\'):
                cur = [ln[2:]]
            else:
                cmds.append(ln[2:])
    if cur is not None:
        cmds.append('\n'.join(cur))
    return cmds


def main():
    if len(sys.argv) < 3:
        sys.stderr.write('usage: docs_blocks.py OUTDIR FILE.md...\n')
        return 2
    out, files = sys.argv[1], sys.argv[2:]
    errors, n = [], 0
    for path in files:
        try:
            found = list(blocks(path))
        except ValueError as e:
            errors.append(str(e))
            continue
        for line, lang, body, d in found:
            where = '%s:%d' % (path, line)
            if not lang:
                errors.append('%s: code block without a language (```sh, ```console, ```text, ```c...)' % where)
                continue
            if lang not in RUN_LANGS:
                if d:
                    errors.append('%s: docs-test directive before a ```%s block (never run)' % (where, lang))
                continue
            n += 1
            status = d.get('status', '0')
            timeout = d.get('timeout', '60')
            if not status.isdigit() or not timeout.isdigit():
                errors.append('%s: bad docs-test directive %r' % (where, d))
                continue
            if 'skip' in d:
                if not d['skip']:
                    errors.append('%s: docs-test: skip needs a reason' % where)
                    continue
                print('%03d\t%s\tskip\t%s\t%s\t%s' % (n, where, status, timeout, d['skip']))
                continue
            if lang == 'sh':
                # A script: the first failing command ends it (set -e).
                script = 'set -e\n' + '\n'.join(body) + '\n'
            else:
                # Terminal semantics: each command line's own status counts
                # ("cmd; echo $?" is a line that succeeds).
                cmds = console_commands(body)
                if not cmds:
                    errors.append('%s: ```console block without a "$ " command line' % where)
                    continue
                script = ''.join('%s\n_dt_rc=$?; [ "$_dt_rc" -eq 0 ] || exit "$_dt_rc"\n' % c
                                 for c in cmds)
            with open(os.path.join(out, '%03d.sh' % n), 'w', encoding='utf-8') as f:
                f.write('# %s\n' % where)
                f.write(script)
                # Background jobs of the block end before the next block.
                f.write('wait\n')
            print('%03d\t%s\trun\t%s\t%s\t' % (n, where, status, timeout))
    for e in errors:
        sys.stderr.write(e + '\n')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
