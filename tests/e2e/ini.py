"""Edits of otad's INI configuration that keep everything else as it was: used by
the end-to-end fixtures and by bench/run.py."""
import re


def rewrite_ini(path, updates):
    """Set keys in sections of an INI file, keeping everything else as it was."""
    with open(path) as f:
        lines = f.read().splitlines()
    todo = {sec: dict(kv) for sec, kv in updates.items()}
    out, section = [], None

    def flush(sec):
        for k, v in todo.pop(sec, {}).items():
            out.append("%s = %s" % (k, v))

    for line in lines:
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            if section is not None:
                flush(section)
            section = m.group(1).strip()
            out.append(line)
            continue
        m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*=", line)
        if m and section in todo and m.group(1) in todo[section]:
            out.append("%s = %s" % (m.group(1), todo[section].pop(m.group(1))))
            continue
        out.append(line)
    if section is not None:
        flush(section)
    for sec in list(todo):
        out.append("")
        out.append("[%s]" % sec)
        flush(sec)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def read_ini(path):
    """{section: {key: value}} of an INI file (comments and blank lines skipped)."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            m = re.match(r"\[([^\]]+)\]", line)
            if m:
                section = out.setdefault(m.group(1).strip(), {})
                continue
            m = re.match(r"([A-Za-z0-9_.-]+)\s*=\s*(.*)", line)
            if m and section is not None:
                section[m.group(1)] = m.group(2).strip()
    return out
