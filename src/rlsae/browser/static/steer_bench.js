/* rlsae feature browser: the steering benchmark (`rlsae steer-bench`, `rlsae browse --steer-bench`) on the
 * summary page: its picture, then one panel per goal with every handle's held-out success at each edit size.
 * data/steer_bench.js calls RLSAE.setSteerBench(bench) (null when the browser was built without one).
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, append = U.append, $ = U.$;
  var R = window.RLSAE;
  var CONTROLS = ['random feature', 'flipped feature', 'noise'];

  R.setSteerBench = function (bench) { R.steerBench = bench; };

  function pct(x) { return x === null || x === undefined ? '\u2013' : Math.round(100 * x) + '%'; }

  function unitLink(s) {
    if (s.unit === null || s.unit === undefined) return '';
    if (s.handle === 'best neuron') return ' ' + s.unit;
    return el('a', {href: '#feature/' + s.unit, text: ' #' + s.unit});
  }

  function cell(s) {
    if (!s) return el('td', {text: '\u2013'});
    var bar = el('span', {'class': 'bench-bar', style: 'display:inline-block;height:8px;vertical-align:middle;' +
      'background:' + (s.p_clean < 0.05 ? '#2a7' : '#999') + ';width:' + Math.round(60 * s.success) + 'px'});
    return el('td', {title: 'Wilson 95% ' + pct(s.wilson_low) + '\u2013' + pct(s.wilson_high) + '; ' + s.gained +
                     ' gained, ' + s.lost + ' lost against clean; score change ' + Math.round(s.score_change) +
                     ' points; edit L2 ' + s.size.toFixed(2)},
      bar, ' ' + pct(s.success) + (s.p_clean < 0.05 ? '*' : ''),
      el('span', {'class': 'muted', text: ' p=' + s.p_clean.toPrecision(2) + ' tv ' +
                  (s.policy_tv === null ? '\u2013' : s.policy_tv.toFixed(2))}));
  }

  function goalPanel(g) {
    var sizes = [], handles = [];
    g.handles.forEach(function (s) {
      if (sizes.indexOf(s.size_ratio) < 0) sizes.push(s.size_ratio);
      if (handles.indexOf(s.handle) < 0) handles.push(s.handle);
    });
    sizes.sort(function (a, b) { return a - b; });
    var rows = handles.map(function (h) {
      var first = g.handles.filter(function (s) { return s.handle === h; })[0];
      return el('tr', {'class': CONTROLS.indexOf(h) >= 0 ? 'muted' : ''},
        el('td', null, h, unitLink(first)),
        sizes.map(function (size) {
          return cell(g.handles.filter(function (s) { return s.handle === h && s.size_ratio === size; })[0]);
        }));
    });
    var top = sizes[sizes.length - 1], verdict = ['best neuron'].concat(CONTROLS).every(function (r) {
      return g.best_vs[r] > 0 && g.best_vs[r] < 0.05;
    });
    return el('div', {'class': 'panel bench-goal', id: 'bench-' + g.goal},
      el('h3', {text: g.goal.replace(/_/g, ' ')}),
      el('p', {'class': 'muted', text: g.expression + ' ' + (g.holds === 'once' ? 'within ' : 'throughout ') +
               g.horizon + ' steps, from ' + g.held_starts.length + ' held-out recorded states (handles chosen on ' +
               g.fit_starts.length + ' others); clean agent: ' + pct(g.clean_success) + '.'}),
      el('table', null,
        el('thead', null, el('tr', null, el('th', {text: 'handle'}), sizes.map(function (size) {
          return el('th', {text: 'edit ' + size + '\u00d7 the activation norm'});
        }))),
        el('tbody', null, rows)),
      el('p', {'class': 'muted', text: 'At ' + top + '\u00d7 the best feature ' + (verdict ? 'beats' : 'does not beat') +
               ' the best neuron and every control (paired p < 0.05). * paired p < 0.05 against the clean agent; ' +
               'tv: share of unrelated states whose action the edit changes.'}));
  }

  function renderBench() {
    var b = R.steerBench, root = $('view-summary');
    if (!b || !root) return;
    var section = el('div', {'class': 'panel', id: 'steer-bench'},
      el('h2', {text: 'Steering benchmark'}),
      el('p', {'class': 'muted', text: 'Does adding a unit direction to the layer send the agent to a goal? Every handle ' +
               'edits the activation by the same L2 norm (a multiple of its mean norm, ' + b.activation_norm.toFixed(2) +
               '). Written by rlsae steer-bench.'}));
    if (b.picture) append(section, el('img', {src: b.picture, alt: 'success per goal and handle', style: 'max-width:100%'}));
    b.goals.forEach(function (g) { append(section, goalPanel(g)); });
    append(root, section);
  }

  var render = R.renderSummary;
  R.renderSummary = function () { render(); renderBench(); };
})();
