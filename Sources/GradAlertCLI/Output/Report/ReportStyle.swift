/// The page's one stylesheet, inline (the page loads nothing). System fonts; the charts are sized
/// in their own SVG units and shrink with the window.
enum ReportStyle {
    static let css = """
        :root{--fg:#1d2330;--muted:#5d6677;--line:#d9dde5;--bg:#fff;--crit:#d62728;--warn:#e07b00;--ok:#2b8a3e;--nodata:#8e44ad}
        *{box-sizing:border-box}
        body{margin:0;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg)}
        main{max-width:1000px;margin:0 auto}
        h1{font-size:22px;margin:0 0 4px}
        h2{font-size:17px;margin:28px 0 8px}
        code{font:12px ui-monospace,"DejaVu Sans Mono",monospace;background:#f1f3f6;padding:0 3px;border-radius:3px}
        .sub{color:var(--muted);margin:0 0 16px}
        table.runs{border-collapse:collapse;width:100%;font-size:13px}
        table.runs th,table.runs td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
        table.runs th{font-weight:600;color:var(--muted);border-bottom:2px solid var(--line)}
        table.runs td.n,table.runs th.n{text-align:right;font-variant-numeric:tabular-nums}
        table.runs td.run{word-break:break-all}
        .v{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;font-weight:600;color:#fff;white-space:nowrap}
        .v-healthy{background:var(--ok)}.v-warning{background:var(--warn)}.v-exploding,.v-nonfinite{background:var(--crit)}.v-no_data{background:var(--nodata)}
        .note{color:var(--muted);font-size:13px}
        details.run{border:1px solid var(--line);border-radius:6px;margin:10px 0;padding:0 12px}
        details.run>summary{cursor:pointer;padding:8px 0;font-weight:600}
        details.run>summary .meta{font-weight:400;color:var(--muted)}
        details.run[open]>summary{border-bottom:1px solid var(--line);margin-bottom:8px}
        .incident{border-left:4px solid var(--crit);padding:2px 10px;margin:8px 0;background:#fdf3f3}
        .incident.warning{border-color:var(--warn);background:#fff7ec}
        .incident.superseded{border-color:#999;background:#f4f4f4}
        .incident h3{font-size:13px;margin:4px 0;color:var(--muted);font-weight:600}
        .incident p{margin:2px 0}
        .incident .headline{font-weight:600}
        .incident .detail{color:var(--muted);font-size:13px}
        .incident ol{margin:4px 0 6px;padding-left:22px;font-size:13px}
        figure{margin:12px 0}
        figcaption{font-size:13px;color:var(--muted);margin-left:184px}
        figcaption b{color:var(--fg)}
        .nochart{color:var(--muted);font-size:13px;margin:8px 0 8px 184px}
        svg.chart{display:block;max-width:100%;height:auto;font:11px system-ui,"DejaVu Sans",sans-serif}
        svg .frame{fill:none;stroke:#c4c9d2}
        svg .grid{stroke:#eceef2}
        svg .axis text{fill:var(--muted)}
        svg .axis.y text,svg .layers text,svg .legend text.title{text-anchor:end}
        svg .axis.x text{text-anchor:middle}
        svg .axis.x text.unit{text-anchor:end}
        svg .axis.x path{stroke:#9aa1ad}
        svg .line{fill:none;stroke-width:1.4;stroke-linejoin:round;stroke-linecap:round}
        svg .dots{fill:none;stroke-width:5;stroke-linecap:round}
        svg .cells{fill:none;stroke-width:13}
        svg .span.critical{fill:var(--crit);opacity:.09}
        svg .span.warning{fill:var(--warn);opacity:.12}
        svg .span.sup{fill:#888;opacity:.10}
        svg .open{stroke-width:1.5;stroke-dasharray:4 3}
        svg .open.critical{stroke:var(--crit)}
        svg .open.warning{stroke:var(--warn)}
        svg .open.sup{stroke:#888}
        svg text.label{font-weight:700}
        svg text.label.critical{fill:var(--crit)}
        svg text.label.warning{fill:var(--warn)}
        svg text.label.sup{fill:#777}
        svg .np{fill:#9aa1ad}
        svg .legend text{fill:var(--fg)}
        svg .legend path{stroke-width:2}
        svg .legend text.tick{text-anchor:middle;fill:var(--muted)}
        svg text.empty{text-anchor:middle;fill:var(--muted)}
        svg .layers text{fill:var(--fg)}
        svg .layers text.origin{fill:var(--crit);font-weight:700}
        footer{margin-top:28px;color:var(--muted);font-size:12px}
        """
}
