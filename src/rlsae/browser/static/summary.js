/* rlsae feature browser: the summary page (#summary): headlines, cards, metrics, fidelity, density,
 * training curves, label comparison, sweep and provenance.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, append = U.append, clear = U.clear, $ = U.$,
      isNum = U.isNum, fmt = U.fmt, fmtMetric = U.fmtMetric, histogramSvg = U.histogramSvg, lineSvg = U.lineSvg;
  var R = window.RLSAE, card = R.card, featureMap = R.featureMap;

  // ---------- summary ----------
  function renderSummary() {
    var s = R.summary, root = clear($('view-summary'));
    append(root, el('h1', {text: s.title}));
    if (s.notes) append(root, el('p', {'class': 'muted', text: s.notes}));
    var headlines = onePerFact(s.headlines || []);
    if (headlines.length) append(root, el('ul', {'class': 'headlines', id: 'headlines'}, headlines.map(headline)));
    var nAlive = R.rows.filter(function (r) { return r.alive; }).length;
    var cards = el('div', {'class': 'cards'},
      card('game', s.agent.game), card('agent', (s.agent.algorithm || '') + ' \u00b7 ' + fmt(s.agent.steps) + ' steps'),
      card('agent score', fmt(s.agent.score)),
      card('SAE', s.sae.architecture + (s.sae.k ? ' k=' + s.sae.k : '')),
      card('neurons \u2192 features', s.sae.d_in + ' \u2192 ' + s.sae.d_sae),
      card('features alive', nAlive + ' / ' + R.rows.length));
    append(root, cards);
    var grid = el('div', {'class': 'grid', style: 'margin-top:14px'});
    append(root, grid);
    var mapped = R.rows.filter(function (r) { return r.alive && r.map_xy; });
    if (mapped.length) {
      append(grid, el('div', {'class': 'panel', id: 'map'}, el('h2', {text: 'Map of the live features'}), featureMap(mapped),
        el('p', {'class': 'muted', style: 'font-size:12px;margin:6px 0 0',
                 text: 'Each live feature is joined to the 10 it fires with most (Jaccard index over the analysed states) ' +
                       'and the graph laid out by forces: features of one situation sit together. Colour: the cluster of ' +
                       'decoder directions, or the fact a labeled feature detects best. Click a dot to open its feature.'})));
    }

    var metrics = Object.keys(s.metrics || {});
    if (metrics.length) {
      append(grid, el('div', {'class': 'panel', id: 'metrics'}, el('h2', {text: 'Metrics'}),
        el('table', null, el('tbody', null, metrics.map(function (k) {
          return el('tr', null, el('td', {text: METRIC_NAMES[k] || k.replace(/_/g, ' ')}),
            el('td', {'class': 'num', text: fmtMetric(k, s.metrics[k])}));
        })))));
    }
    // The SAE's evaluation, one number a row: its name, its value and what that value means, all as the
    // evaluation record declares them (sae/evaluation.py); the page names no metric itself.
    if ((s.fidelity || []).length) {
      append(grid, el('div', {'class': 'panel wide', id: 'fidelity'}, el('h2', {text: 'Fidelity: the SAE spliced into the agent'}),
        el('table', null, el('tbody', null, s.fidelity.map(function (r) {
          return el('tr', {'data-key': r.key}, el('td', {text: r.name}), el('td', {'class': 'num', text: r.shown}),
            el('td', {'class': 'muted', text: r.meaning}));
        })))));
    }
    // density histogram (log10), dead features counted apart
    var logs = s.density_log10 || [], alive = logs.filter(isNum), dead = logs.length - alive.length, edges = null, counts = null;
    var dens = el('div', {'class': 'panel', id: 'density'}, el('h2', {text: 'Feature density'}));
    if (alive.length) {
      var lo = Math.floor(Math.min.apply(null, alive) * 4) / 4, hi = Math.max(lo + 0.25, Math.ceil(Math.max.apply(null, alive) * 4) / 4);
      var nb = Math.round((hi - lo) / 0.25);
      edges = []; counts = [];
      for (var i = 0; i <= nb; i++) edges.push(lo + 0.25 * i);
      for (i = 0; i < nb; i++) counts.push(0);
      alive.forEach(function (v) { counts[Math.min(nb - 1, Math.floor((v - lo) / 0.25))] += 1; });
    }
    append(dens, histogramSvg(edges || [], counts || [], {width: 330, xlabel: 'log10 activation density', logCounts: true, dead: dead}));
    append(dens, el('p', {'class': 'muted', id: 'density-note', text: alive.length + ' alive, ' + dead + ' dead (never active) of ' + logs.length +
                          (s.density_sample ? ', over ' + s.density_sample : '') + '. The grey bar counts the dead; counts on a log scale.'}));
    append(grid, dens);

    if (s.training_curves && s.training_curves.length) {
      var keys = [];
      s.training_curves.forEach(function (p) { Object.keys(p).forEach(function (k) { if (k !== 'step' && keys.indexOf(k) < 0) keys.push(k); }); });
      append(grid, el('div', {'class': 'panel wide', id: 'curves'}, el('h2', {text: 'SAE training'}),
        el('div', {'class': 'charts'}, keys.map(function (k) {
          return lineSvg(s.training_curves.map(function (p) { return {x: p.step, y: p[k]}; }), (s.curve_names || {})[k] || k);
        }))));
    }
    // Each unit kind brings the same numbers in the same order, named and explained by their records.
    var comp = s.label_comparison || {}, groups = Object.keys(comp);
    if (groups.length) {
      var share = function (g, key) { return (comp[g].filter(function (r) { return r.key === key; })[0] || {}).value; };
      append(grid, el('div', {'class': 'panel', id: 'labels'}, el('h2', {text: 'Neurons vs features: how readable?'}),
        el('table', null,
          el('thead', null, el('tr', null, el('th'), groups.map(function (g) { return el('th', {'class': 'num', text: g}); }))),
          el('tbody', null, comp[groups[0]].map(function (row, i) {
            return el('tr', null, el('td', {text: row.name}), groups.map(function (g) {
              var cell = comp[g][i] || {};
              return el('td', {'class': 'num', text: cell.shown || '\u2013', title: cell.meaning || ''});
            }));
          }))),
        [['labeled_fraction', 'labeled'], ['explained_fraction', 'explained']].map(function (k) {
          return groups.map(function (g) {
            var f = share(g, k[0]);
            return isNum(f) ? el('div', {'class': 'share', 'data-share': k[0], style: 'margin-top:6px;font-size:12px'},
              el('span', {'class': 'share-name', text: g + ' ' + k[1]}),
              el('span', {'class': 'aurocbar', style: 'width:160px'}, el('i', {style: 'left:0;width:' + (100 * f).toFixed(1) + '%'}))) : null;
          });
        }),
        s.explain_rule ? el('p', {'class': 'muted', id: 'explain-rule', style: 'font-size:12px;margin:6px 0 0',
          text: 'Explained: the formula of up to three game facts (now or a few steps away) that agrees best with the ' +
                'unit on the fitting episodes passes the rule: ' + s.explain_rule + '.'}) : null));
    }
    if ((s.found_again || []).length) append(grid, foundAgainPanel(s.found_again));
    if (R.summary.clusters.length) {
      append(grid, el('div', {'class': 'panel', id: 'cluster-summary'}, el('h2', {text: 'Clusters'}),
        el('p', null, R.summary.clusters.length + ' clusters of related features. ', el('a', {href: '#clusters', text: 'Browse clusters'}))));
    }
    if (s.sweep) {
      append(grid, el('div', {'class': 'panel wide', id: 'sweep'}, el('h2', {text: 'Sweep: do dead features predict the agent\u2019s skill?'}),
        s.sweep.plot ? el('img', {src: s.sweep.plot, alt: 'sweep plot', style: 'max-width:100%'}) : null,
        el('table', null, el('tbody', null, Object.keys(s.sweep.numbers).map(function (k) {
          return el('tr', null, el('td', {text: k}), el('td', {'class': 'num', text: fmt(s.sweep.numbers[k], 3)}));
        }))), el('p', {'class': 'muted', text: s.sweep.note})));
    }
    var prov = s.provenance || {};
    if (Object.keys(prov).length) {
      append(grid, el('div', {'class': 'panel', id: 'provenance'}, el('h2', {text: 'Provenance'}),
        el('dl', {'class': 'kv'}, Object.keys(prov).map(function (k) {
          var v = prov[k];
          return [el('dt', {text: k}), el('dd', {text: typeof v === 'object' ? JSON.stringify(v) : String(v)})];
        }))));
    }
  }
  /** The share of live features an SAE trained with another seed learns too, said plainly when it is none,
   *  and every number by the name and meaning FoundAgain (analysis/seed_match.py) declares. */
  function foundAgainPanel(rows) {
    var v = {};
    rows.forEach(function (r) { v[r.key] = r; });
    var cut = fmt(R.foundThreshold(), 2), median = v.median_nearest_cosine ? v.median_nearest_cosine.shown : '\u2013';
    var lead = v.n_found && v.n_found.value === 0
      ? 'None of the ' + v.n_live.shown + ' live features is found again: no feature of the other seed\u2019s SAE has a decoder ' +
        'cosine of ' + cut + ' or more with any of them (median nearest cosine ' + median + ').'
      : v.found_fraction.shown + ' of the live features (' + v.n_found.shown + ' of ' + v.n_live.shown + ') are found again in the ' +
        'other seed\u2019s SAE at decoder cosine ' + cut + ' or more (median nearest cosine ' + median + ').';
    return el('div', {'class': 'panel wide', id: 'found-again'}, el('h2', {text: 'Found again by another seed?'}),
      el('p', {id: 'found-lead', text: lead}),
      el('table', null, el('tbody', null, rows.map(function (r) {
        return el('tr', {'data-key': r.key}, el('td', {text: r.name}), el('td', {'class': 'num', text: r.shown}),
          el('td', {'class': 'muted', text: r.meaning}));
      }))),
      el('p', {'class': 'muted', style: 'font-size:12px;margin:6px 0 0', text: 'A feature both seeds learn is less the luck of ' +
        'one run (Paulo & Belrose 2025). Each feature\u2019s page says whether it is found again; the list sorts by the cosine.'}));
  }
  /** The first headline for each fact: two fact families may pick the same best fact. */
  function onePerFact(headlines) {
    var seen = {};
    return headlines.filter(function (h) { var first = !seen[h.fact]; seen[h.fact] = true; return first; });
  }
  /** "Best dying feature: #1571 <its own label> - <the fact> on 83% of its 1,114 held-out firings (recall 85%)";
   *  the fact is not said again when the label already says it. */
  function headline(h) {
    var r = R.byId[h.feature] || {}, pct = function (x) { return isNum(x) ? Math.round(100 * x) + '%' : '\u2014'; };
    var same = r.label && normaliseText(r.label) === normaliseText(h.description || h.fact);
    return el('li', null, 'Best ' + h.title + ' feature: ',
      el('a', {href: '#feature/' + h.feature, 'class': 'headline-link', text: '#' + h.feature}), ' ',
      el('span', {'class': 'label', text: r.label || 'no label'}),
      el('span', {'class': 'muted', text: ' \u2014 ' + (same ? 'true' : h.description) + ' on ' + pct(h.precision) +
                  ' of its ' + fmt(h.firings) + ' held-out firings (recall ' + pct(h.recall) + ')'}));
  }
  function normaliseText(text) { return R.normalise(text).replace(/[^a-z0-9 ]/g, '').trim(); }
  // What each metric key means, in words (the key itself is the tooltip).
  var METRIC_NAMES = {
    live_features: 'live features', labeled_fraction: 'live features with a label',
    neuron_labeled_fraction: 'live neurons with a label'};

  R.renderSummary = renderSummary;
})();
