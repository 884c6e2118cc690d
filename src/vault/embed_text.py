#!/usr/bin/env python3
"""Turns a text file into a C string constant: embed_text.py IN OUT SYMBOL."""
import os
import sys


def main():
    src, dst, sym = sys.argv[1:4]
    with open(src, 'rb') as f:
        data = f.read()
    out = ['/* Generated from %s by embed_text.py: do not edit. */\n' % os.path.basename(src),
           'const char %s[] =\n' % sym]
    for line in data.splitlines(keepends=True):
        esc = ''.join(c if 32 <= ord(c) < 127 and c not in '"\\?' else '\\%03o' % ord(c)
                      for c in line.decode('latin-1'))
        out.append('\t"%s"\n' % esc)
    if not data:
        out.append('\t""\n')
    out.append(';\n')
    with open(dst, 'w') as f:
        f.write(''.join(out))


if __name__ == '__main__':
    main()
