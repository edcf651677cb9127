"""How a report shows things: headings, tables, boxes and figures as HTML that reads on a
phone (tables scroll sideways inside their box, long text wraps) and on paper.

Notebooks call these and nothing else to show a frame, so every report looks alike. The
functions return :class:`IPython.display.HTML` objects (shown when they are a cell's last
value) or display them with :func:`show`.

Examples
--------
>>> html = table_html(pd.DataFrame({"姓名": ["<张三>"], "人数": [1234]}), caption="示例")
>>> "&lt;张三&gt;" in html and "1,234" in html and "示例" in html
True
"""

from __future__ import annotations

import html as _html

import pandas as pd

#: Tables wider than this many columns become one card per row on a phone.
CARD_COLUMNS = 5
#: Text this short (a name, a code, a grade) is never broken across lines.
SHORT = 8

#: The stylesheet of the reports (added to the page by the template's ``extra_css`` block).
CSS = """
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei",
       sans-serif; }
.jp-Notebook { max-width: 1100px; margin: 0 auto; padding: 8px; }
.rp h1 { font-size: 1.6em; margin: 0.2em 0; }
.rp h2 { font-size: 1.3em; border-bottom: 2px solid #b22222; padding-bottom: 2px;
         margin-top: 1.2em; }
.rp h3 { font-size: 1.1em; margin-top: 1em; }
.rp p, .rp li { font-size: 15px; line-height: 1.6; }
.rp .meta { color: #555; font-size: 13px; }
.rp .tbl { overflow-x: auto; max-width: 100%; margin: 0.4em 0 1em 0; }
.rp table { border-collapse: collapse; font-size: 13px; min-width: 50%;
            table-layout: auto !important; }
.rp table th { background: #f3f3f3; text-align: left !important; white-space: nowrap; }
.rp table th, .rp table td { border: 1px solid #ddd; padding: 3px 6px; vertical-align: top;
                             text-align: left !important; max-width: none; }
.rp table td.num { text-align: right !important; white-space: nowrap; }
.rp table td.short { white-space: nowrap; }
.rp td.wrap { min-width: 16em; white-space: normal; }
.rp caption { caption-side: top; text-align: left; font-weight: bold; padding: 4px 0; }
.rp .box { border-left: 5px solid; padding: 6px 10px; margin: 0.6em 0; font-size: 15px; }
.rp .warn { border-color: #b22222; background: #fdf0f0; }
.rp .ok { border-color: #2e7d32; background: #eef7ee; }
.rp .note { border-color: #888; background: #f6f6f6; }
.rp .kpis { display: flex; flex-wrap: wrap; gap: 8px; margin: 0.5em 0; }
.rp .kpi { border: 1px solid #ddd; border-radius: 4px; padding: 6px 10px; min-width: 9em; }
.rp .kpi b { display: block; font-size: 1.4em; }
.jp-OutputArea-output img { max-width: 100%; height: auto; }
@media (max-width: 600px) {
  .jp-Notebook { padding: 2px; }
  .rp p, .rp li, .rp .box { font-size: 14px; }
  .rp table { font-size: 12px; }
  .jp-OutputPrompt, .jp-InputPrompt { display: none; }
  /* A wide table becomes one card per row: each cell on its own line, its column's name
     before it. */
  .rp table.cards, .rp table.cards tbody, .rp table.cards tr, .rp table.cards td {
    display: block; width: auto; }
  .rp table.cards thead { display: none; }
  .rp table.cards tr { border: 1px solid #ccc; border-radius: 4px; margin: 0 0 8px 0;
                       padding: 4px 6px; }
  .rp table.cards td { border: none; padding: 1px 0; text-align: left !important;
                       white-space: normal; min-width: 0; }
  .rp table.cards td::before { content: attr(data-label) "："; color: #666; }
}
/* On paper: A4 landscape, so a list's columns fit the page. */
@page { size: A4 landscape; margin: 12mm; }
@media print {
  /* JupyterLab keeps a cell's output on one page; a report's section runs over pages. */
  .jp-Cell, .jp-Cell-outputWrapper, .jp-OutputArea, .jp-OutputArea-child,
  .jp-OutputArea-output { break-inside: auto !important; page-break-inside: auto !important; }
  .rp .tbl, .jp-OutputArea-output, .jp-RenderedHTMLCommon { overflow: visible !important; }
  .rp table { width: 100% !important; font-size: 10px; }
  .rp table td.wrap { min-width: 0; }
  .jp-Notebook { max-width: none; padding: 0; }
  .rp h2 { break-after: avoid; }
  .rp table { break-inside: auto; }
  .rp tr { break-inside: avoid; }
}
"""


def _esc(v) -> str:
    return _html.escape("" if v is None else str(v))


def _cell(v, wrap: bool, label: str) -> str:
    lab = f' data-label="{_esc(label)}"'
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return f"<td{lab}>—</td>"
    if isinstance(v, bool):
        return f"<td{lab}>{'是' if v else '否'}</td>"
    if isinstance(v, int) or (hasattr(v, "dtype") and str(getattr(v, "dtype", "")) == "int64"):
        return f'<td class="num"{lab}>{int(v):,}</td>'
    if isinstance(v, float):
        text = f"{v:,.0f}" if v.is_integer() and abs(v) >= 1 else f"{v:,.3g}"
        return f'<td class="num"{lab}>{text}</td>'
    if isinstance(v, pd.Timestamp):
        return f"<td{lab}>{v:%Y-%m-%d}</td>"
    cls = ' class="wrap"' if wrap else ' class="short"' if len(str(v)) <= SHORT else ""
    return f"<td{cls}{lab}>{_esc(v)}</td>"


def table_html(
    frame: pd.DataFrame, caption: str | None = None, wrap: tuple[str, ...] = (), empty: str = "无"
) -> str:
    """A frame as an HTML table inside a box that scrolls sideways on a narrow screen.

    Parameters
    ----------
    frame : the table (its index is not shown).
    caption : a title above it.
    wrap : columns of long text, given room to wrap.
    empty : what is written when the frame has no rows.
    """
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    if frame is None or frame.empty:
        return f'<div class="rp"><p class="meta">{_esc(caption or "")}{"：" if caption else ""}{_esc(empty)}</p></div>'
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(_cell(v, c in wrap, str(c)) for c, v in zip(frame.columns, row, strict=True))
        + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    kind = "cards" if len(frame.columns) > CARD_COLUMNS else "plain"
    return (
        f'<div class="rp"><div class="tbl"><table class="{kind}">{cap}<thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table></div></div>"
    )


def box(text: str | list[str], kind: str = "note") -> str:
    """A highlighted paragraph (``warn``, ``ok`` or ``note``); a list becomes one paragraph
    per item."""
    items = [text] if isinstance(text, str) else list(text)
    inner = "".join(f"<p>{_esc(t)}</p>" for t in items)
    return f'<div class="rp"><div class="box {kind}">{inner}</div></div>'


def heading(text: str, level: int = 2, meta: str | None = None, anchor: str | None = None) -> str:
    """A section heading, with an optional grey line under it and an ``anchor`` (an id
    the report's contents link to)."""
    m = f'<p class="meta">{_esc(meta)}</p>' if meta else ""
    ident = f' id="{_esc(anchor)}"' if anchor else ""
    return f'<div class="rp"><h{level}{ident}>{_esc(text)}</h{level}>{m}</div>'


def contents(items: list[tuple[str, str]]) -> str:
    """Links to the report's sections, (anchor, title) pairs: on a phone, the way past a long
    list. Links stay inside the page."""
    links = " · ".join(f'<a href="#{_esc(a)}">{_esc(t)}</a>' for a, t in items)
    return f'<div class="rp"><p class="meta">{links}</p></div>'


def paragraph(text: str) -> str:
    return f'<div class="rp"><p>{_esc(text)}</p></div>'


def kpis(items: list[tuple[str, str]]) -> str:
    """A row of headline figures: (label, value) pairs."""
    cells = "".join(f'<div class="kpi">{_esc(k)}<b>{_esc(v)}</b></div>' for k, v in items)
    return f'<div class="rp"><div class="kpis">{cells}</div></div>'


def show(*parts: str) -> None:
    """Display HTML fragments in the notebook (one output)."""
    from IPython.display import HTML, display

    display(HTML("\n".join(parts)))


def figure_style() -> None:
    """Matplotlib and seaborn for the reports: the packaged Noto Sans CJK font (set through
    seaborn's theme, which would otherwise reset it), inline PNGs at a readable size."""
    import matplotlib as mpl
    import seaborn as sns

    from analysis.effects.figures import use_chinese_font

    use_chinese_font()
    sans = list(mpl.rcParams["font.sans-serif"])
    sns.set_theme(style="whitegrid", font=sans[0], rc={"font.sans-serif": sans})
    mpl.rcParams["axes.unicode_minus"] = False
    mpl.rcParams["figure.dpi"] = 96
    mpl.rcParams["savefig.dpi"] = 110
