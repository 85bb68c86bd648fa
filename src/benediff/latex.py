"""LaTeX (booktabs) tables, the one writer the paper tables and the specificity table use."""


def booktabs(spec: str, header: list[str], groups: list[list[list[str]]], caption=None) -> str:
    """A ``tabular`` with ``\\toprule``/``\\midrule``/``\\bottomrule``: ``header`` cells, then
    the row groups (lists of rows of cells) separated by ``\\midrule``; with ``caption``,
    wrapped in a ``table`` float."""
    lines = []
    if caption is not None:
        lines += [r"\begin{table}[t]", r"\centering", f"\\caption{{{caption}}}"]
    lines += [f"\\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(header) + r" \\",
              r"\midrule"]
    for k, rows in enumerate(groups):
        if k:
            lines.append(r"\midrule")
        lines += [" & ".join(cells) + r" \\" for cells in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption is not None:
        lines.append(r"\end{table}")
    return "\n".join(lines + [""])
