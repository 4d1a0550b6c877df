/* rlsae feature browser: the app's shared state and the helpers more than one page uses.
 * Creates window.RLSAE; the page files (summary, map, list, frames, feature, clusters) add their renderers
 * to it and browser.js routes between them.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el;

  // routes: pages a file adds by name (#name/arg?query -> routes[name](arg, query)), as track.js does.
  var R = window.RLSAE = {summary: null, table: null, rows: [], byId: {}, cache: {}, loading: {},
                          filtered: [], readyMs: null, routes: {}};
  var state = {query: '', alive: 'all', label: 'all', cluster: 'all', dmin: null, dmax: null, metric: 'f1',
               mmin: null, explained: 'all', xmin: null, sort: 'id', asc: true, current: null, lastRoute: null};
  R.state = state;

  function actionName(i) { var n = R.summary.action_names; return i === null || i === undefined ? '' : n[i]; }
  function clusterName(id) { var c = R.clusterById[id]; return c ? c.name : ''; }
  function card(k, v) {
    return el('div', {'class': 'card'}, el('div', {'class': 'k', text: k}), el('div', {'class': 'v'}, v));
  }
  function normalise(text) { return String(text || '').toLowerCase().replace(/_/g, ' '); }
  function memberChips(members, current) {
    return el('div', {'class': 'chips'}, members.map(function (m) {
      var r = R.byId[m];
      return el('a', {href: '#feature/' + m, 'class': m === current ? 'current' : null, title: r && r.label ? r.label : '', text: '#' + m});
    }));
  }

  // A number shown as its record declares it: a Python format spec ({:.1%}, {:.3f}, {:,.0f}, {:,}, {:d}) and a unit.
  function fmtSpec(v, spec, unit) {
    if (!U.isNum(v)) return '\u2014';
    var m = /^\{:(,)?(?:\.(\d+))?([fgd%])?\}$/.exec(spec || '') || [], digits = m[2] === undefined ? null : +m[2];
    var kind = m[3] || '', x = kind === '%' ? 100 * v : v, text;
    if (kind === 'g' || (!kind && digits !== null)) text = String(+x.toPrecision(digits || 4));
    else if (digits !== null) text = x.toLocaleString('en-US', {minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: !!m[1]});
    else text = m[1] || kind === 'd' ? Math.round(x).toLocaleString('en-US', {useGrouping: !!m[1]}) : String(x);
    return text + (kind === '%' ? '%' : '') + (unit ? ' ' + unit : '');
  }
  // The label's held-out scores, as interpret declares them (analysis/labels.py, LabelScores): key, name,
  // meaning (with {} for the value), format and unit. The page has no list of its own.
  function labelScores() { return R.summary.label_scores || []; }
  // The same for an explanation's held-out scores (analysis/explain.py, ExplanationScores).
  function explanationScores() { return R.summary.explanation_scores || []; }
  function scoreTip(c) { return c.name + ': ' + c.meaning.replace('{}', '\u2026'); }
  // The explanation's F1, as ExplanationScores declares it (the list's column and filter).
  function explanationF1() {
    return explanationScores().filter(function (c) { return c.key === 'f1'; })[0] || {name: 'F1', format: '{:.2f}', meaning: '{}'};
  }

  // The decoder cosine a feature's nearest feature in another seed's SAE needs for "found again"
  // (analysis/seed_match.py); null when the run was interpreted without one: then nothing of it is shown.
  function foundThreshold() { return U.isNum(R.summary.found_threshold) ? R.summary.found_threshold : null; }

  R.foundThreshold = foundThreshold;
  R.fmtSpec = fmtSpec; R.labelScores = labelScores; R.explanationScores = explanationScores; R.scoreTip = scoreTip;
  R.explanationF1 = explanationF1;
  R.actionName = actionName; R.clusterName = clusterName; R.card = card; R.normalise = normalise;
  R.memberChips = memberChips;
})();
