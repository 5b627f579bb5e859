#include "web/assets.h"

namespace runbook::web {

const std::string_view kStyleCss = R"css(
body { font: 15px/1.45 "DejaVu Sans", system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 0.6em 1.5em; display: flex; gap: 1.5em; align-items: center; }
header a { color: #dfe6f3; text-decoration: none; }
header a.here { color: #fff; font-weight: bold; }
header .who { margin-left: auto; display: flex; gap: 0.8em; align-items: center; }
header form { margin: 0; }
main { padding: 1em 1.5em 3em; max-width: 72em; }
h1 { font-size: 1.5em; margin: 0.4em 0; }
h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
pre { background: #fff; border: 1px solid #e3e6eb; padding: 1em; white-space: pre-wrap; overflow-wrap: anywhere; }
code { background: #eef0f4; padding: 0 0.2em; }
.state { font-weight: bold; padding: 0.1em 0.5em; border-radius: 0.3em; background: #e3e6eb; }
.state-succeeded, .state-approved, .state-met, .state-ok { background: #d5f2dc; color: #145c29; }
.state-rolled_back, .state-pending, .state-unfinished, .state-running, .state-unmet { background: #fdf0c9; color: #6b4e00; }
.state-rollback_failed, .state-aborted, .state-rejected, .state-failed, .state-refused { background: #fbd9d7; color: #8a1c13; }
.flash { padding: 0.6em 1em; border-radius: 0.3em; margin: 0.8em 0; }
.flash.ok { background: #d5f2dc; } .flash.error { background: #fbd9d7; }
form.action { background: #fff; border: 1px solid #e3e6eb; padding: 0.8em 1em; margin: 0.8em 0; }
form.action textarea { width: 100%; min-height: 4em; font-family: monospace; }
button { font: inherit; padding: 0.3em 1em; cursor: pointer; }
button.approve { background: #1f7a3a; color: #fff; border: 0; border-radius: 0.3em; }
button.reject { background: #a4271d; color: #fff; border: 0; border-radius: 0.3em; }
.login { max-width: 22em; margin: 4em auto; background: #fff; padding: 1.5em; border: 1px solid #e3e6eb; }
.login label { display: block; margin: 0.6em 0 0.2em; }
.login input { width: 100%; box-sizing: border-box; padding: 0.3em; font: inherit; }
.muted { color: #5b6475; }
.timeline svg { max-width: 100%; height: auto; background: #fff; }
)css";

const std::string_view kLiveJs = R"js(
'use strict';
// Live updates (docs/serve.md): the run page polls its own JSON while the run goes; the run
// lists poll theirs. Everything shown comes from the server's JSON and is written as text;
// the timeline is the server's own SVG.
(function () {
  function getJson(url) {
    return fetch(url, {headers: {Accept: 'application/json'}, credentials: 'same-origin'})
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); });
  }
  // A cell with `text`; with `state`, the text is a badge of that state (as the server draws).
  function cell(row, text, state) {
    var td = document.createElement('td');
    var value = text === undefined || text === null ? '' : String(text);
    if (state) {
      var badge = document.createElement('span');
      badge.className = 'state state-' + String(state).replace(/[^A-Za-z0-9_]/g, '_');
      badge.textContent = value;
      td.appendChild(badge);
    } else {
      td.textContent = value;
    }
    row.appendChild(td);
    return td;
  }
  function fill(tbody, items, render) {
    if (!tbody) return;
    var rows = document.createDocumentFragment();
    items.forEach(function (item) { var tr = document.createElement('tr'); render(tr, item); rows.appendChild(tr); });
    tbody.replaceChildren(rows);
  }
  function setState(el, state) {
    if (!el) return;
    el.textContent = state;
    el.className = 'state state-' + state;
  }
  function runPage(root) {
    var url = root.getAttribute('data-json');
    var every = Number(root.getAttribute('data-interval') || 1000);
    function tick() {
      getJson(url).then(function (j) {
        setState(document.getElementById('run-state'), j.state);
        var t = document.getElementById('timeline');
        if (t && j.timeline_svg !== undefined) t.innerHTML = j.timeline_svg;
        fill(document.getElementById('steps-body'), j.steps, function (tr, s) {
          cell(tr, s.phase); cell(tr, s.label); cell(tr, s.outcome, s.outcome);
          cell(tr, (s.end_ms - s.start_ms) + ' ms'); cell(tr, s.error);
        });
        fill(document.getElementById('hosts-body'), j.hosts, function (tr, h) {
          cell(tr, h.host); cell(tr, h.ok); cell(tr, h.failed); cell(tr, h.skipped);
          cell(tr, h.rolled_back); cell(tr, h.rollback_failed);
        });
        var n = document.getElementById('event-count');
        if (n) n.textContent = String(j.event_count);
        if (j.finished) {
          var link = document.getElementById('report-link');
          if (link) link.hidden = false;
          var f = document.getElementById('finished-at');
          if (f) f.textContent = j.run.finished_at || '';
          return;
        }
        setTimeout(tick, every);
      }).catch(function () { setTimeout(tick, every * 3); });
    }
    setTimeout(tick, every);
  }
  function runList(tbody) {
    var url = tbody.getAttribute('data-json');
    function tick() {
      getJson(url).then(function (j) {
        fill(tbody, j.runs, function (tr, r) {
          var td = cell(tr, '');
          var a = document.createElement('a');
          a.href = '/runs/' + encodeURIComponent(r.run_id);
          a.textContent = r.run_id;
          td.appendChild(a);
          var state = r.state || 'running';
          cell(tr, r.runbook); cell(tr, state, state);
          cell(tr, r.started_at); cell(tr, r.operator);
          cell(tr, r.failed_hosts ? r.failed_hosts.length : 0);
        });
        setTimeout(tick, 2000);
      }).catch(function () { setTimeout(tick, 6000); });
    }
    setTimeout(tick, 2000);
  }
  document.addEventListener('DOMContentLoaded', function () {
    var run = document.getElementById('run-live');
    if (run) runPage(run);
    var lists = document.querySelectorAll('tbody[data-json]');
    for (var i = 0; i < lists.length; i++) runList(lists[i]);
  });
})();
)js";

}  // namespace runbook::web
