// The post-mortem report's HTML skeleton: a copy of templates/postmortem.html, compiled into
// the binary so that `runbook report` needs no file at run time. Edit the .html file, then
// regenerate this one (audit/report_test.cc fails while the two differ), from the project root:
//   { sed -n '1,/^inline constexpr/p' audit/report_template.h; cat templates/postmortem.html;
//     sed -n '/^)html/,$p' audit/report_template.h; } > /tmp/t.h && mv /tmp/t.h audit/report_template.h
#pragma once

#include <string_view>

namespace runbook {

/// The template of the post-mortem report; report.cc fills its {{name}} placeholders.
/// (substr(1) drops the line break after the opening delimiter.)
inline constexpr std::string_view kPostmortemTemplate = std::string_view(R"html(
<!DOCTYPE html>
<!--
  The post-mortem report of one run (`runbook report RUN_ID --out F.html`).
  One self-contained file: inline CSS and an inline SVG, no scripts, no external assets, so
  that it can be attached to a ticket or mailed and still opens years later.
  Placeholders (a name in double braces) are filled by audit/report.cc, every value
  HTML-escaped.
  audit/report_template.h holds a copy of this file; audit/report_test.cc checks they match.
-->
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="runbook">
<title>{{title}}</title>
<style>
  :root { --fg: #1d2329; --muted: #5f6b76; --line: #d8dee4; --bg-alt: #f5f7f9;
          --precheck: #7c8ea3; --step: #2f7fd1; --verify: #8a5cc7; --rollback: #d98a1c;
          --failed: #c9302c; --ok: #2e8540; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
         color: var(--fg); margin: 0 auto; padding: 24px 32px 48px; max-width: 1200px; }
  h1 { font-size: 22px; margin: 0 0 12px; }
  h2 { font-size: 17px; margin: 32px 0 10px; padding-bottom: 4px;
       border-bottom: 1px solid var(--line); }
  code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
                     font-size: 12.5px; }
  pre { background: var(--bg-alt); border: 1px solid var(--line); padding: 10px 12px;
        overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
  table { border-collapse: collapse; }
  table.facts th { text-align: left; font-weight: 600; padding: 3px 16px 3px 0;
                   color: var(--muted); vertical-align: top; }
  table.facts td { padding: 3px 0; }
  table.events { width: 100%; font-size: 12.5px; }
  table.events th, table.events td { border-bottom: 1px solid var(--line); padding: 4px 6px;
                                     text-align: left; vertical-align: top; }
  table.events th { background: var(--bg-alt); position: sticky; top: 0; }
  table.events td.num { text-align: right; white-space: nowrap; }
  table.events tr.bad td { background: #fbeaea; }
  table.events tr.undo td { background: #fdf4e6; }
  details > summary { cursor: pointer; color: var(--muted); }
  .state { display: inline-block; padding: 1px 10px; border-radius: 11px; font-size: 13px;
           font-weight: 600; color: #fff; vertical-align: middle; background: var(--muted); }
  .state-succeeded { background: var(--ok); }
  .state-rolled_back { background: var(--rollback); }
  .state-rollback_failed, .state-aborted { background: var(--failed); }
  .summary p { margin: 6px 0; }
  .summary ul { margin: 4px 0 8px; padding-left: 22px; }
  .summary li { margin: 2px 0; }
  .muted { color: var(--muted); }
  .timeline { overflow-x: auto; border: 1px solid var(--line); padding: 8px; }
  .timeline svg { display: block; }
  .legend span { display: inline-block; margin-right: 14px; }
  .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
              vertical-align: -1px; border-radius: 2px; }
  footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
  @media print { .timeline { overflow: visible; } table.events th { position: static; } }
</style>
</head>
<body>
<header>
<h1>Post-mortem: {{runbook}} <span class="state state-{{state_class}}">{{state}}</span></h1>
<table class="facts">
<tr><th>Runbook</th><td>{{runbook}} <span class="muted mono">{{runbook_path}}</span></td></tr>
<tr><th>Run id</th><td class="mono">{{run_id}}</td></tr>
<tr><th>Operator</th><td>{{operator}}</td></tr>
<tr><th>Host</th><td>{{host}} <span class="muted">(pid {{pid}})</span></td></tr>
<tr><th>Started</th><td class="mono">{{started_at}}</td></tr>
<tr><th>Finished</th><td class="mono">{{finished_at}}</td></tr>
<tr><th>Duration</th><td>{{duration}}</td></tr>
<tr><th>Terminal state</th><td>{{state}}</td></tr>
<tr><th>Exit code</th><td>{{exit_code}}</td></tr>
<tr><th>Plan</th><td class="mono">{{plan_id}}</td></tr>
<tr><th>Lock</th><td class="mono">{{lock_key}}</td></tr>
<tr><th>Params</th><td class="mono">{{params}}</td></tr>
</table>
</header>

<section class="summary">
<h2>What happened</h2>
{{summary}}
</section>

<section>
<h2>Timeline</h2>
<p class="legend muted">
<span><i style="background: var(--precheck)"></i>precheck</span>
<span><i style="background: var(--step)"></i>step</span>
<span><i style="background: var(--verify)"></i>verify</span>
<span><i style="background: var(--rollback)"></i>rollback</span>
<span><i style="background: #fff; border: 2px solid var(--ok)"></i>succeeded</span>
<span><i style="background: repeating-linear-gradient(45deg, #fff 0 2px, var(--failed) 2px 4px); border: 2px solid var(--failed)"></i>failed</span>
<span><i style="background: #fff; border: 2px dashed var(--muted)"></i>unfinished</span>
</p>
<div class="timeline">
{{timeline}}
</div>
</section>

<section>
<h2>Events</h2>
<p class="muted">{{event_range}}</p>
<table class="events">
<thead><tr><th>seq</th><th>offset</th><th>phase</th><th>step</th><th>event</th><th>#</th><th>from &rarr; to</th><th>details</th></tr></thead>
<tbody>
{{event_rows}}
</tbody>
</table>
</section>

<section>
<h2>Recorded runbook</h2>
<p class="muted">The exact text that was run: <span class="mono">{{runbook_path}}</span>, sha256 <span class="mono">{{runbook_sha256}}</span>.</p>
<pre>{{runbook_text}}</pre>
</section>

<footer>
Written by <code>runbook report</code> from the audit log. Check the log itself with
<code>runbook audit verify</code> and the run with <code>runbook replay {{run_id}} --verify</code>.
</footer>
</body>
</html>
)html").substr(1);

}  // namespace runbook
