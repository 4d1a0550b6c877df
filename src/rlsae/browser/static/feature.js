/* rlsae feature browser: one feature's page (#feature/<id>), its data loaded on demand.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, append = U.append, clear = U.clear, $ = U.$,
      isNum = U.isNum, fmt = U.fmt, fmtDensity = U.fmtDensity, histogramSvg = U.histogramSvg, arrowsSvg = U.arrowsSvg,
      distributionSvg = U.distributionSvg;
  var R = window.RLSAE, state = R.state, card = R.card, clusterName = R.clusterName, memberChips = R.memberChips,
      frameBox = R.frameBox, marksLegend = R.marksLegend, openClip = R.openClip;

  function neighbour(id, delta) {
    var ids = (R.filtered.length ? R.filtered : R.rows).map(function (r) { return r.id; });
    var at = ids.indexOf(id);
    if (at < 0) { ids = R.rows.map(function (r) { return r.id; }); at = ids.indexOf(id); }
    var next = ids[at + delta];
    return next === undefined ? null : next;
  }
  function step(delta) { var n = neighbour(state.current, delta); if (n !== null) location.hash = '#feature/' + n; }

  function loadFeature(id) {
    var root = clear($('view-feature'));
    state.current = id;
    if (!(id in R.byId)) { append(root, el('p', {'class': 'error', text: 'There is no feature ' + id + ' in this export.'})); return; }
    if (R.cache[id]) { renderFeature(R.cache[id]); return; }
    append(root, el('p', {'class': 'muted', text: 'Loading feature ' + id + '\u2026'}));
    if (R.loading[id]) return;
    R.loading[id] = true;
    var script = el('script', {src: 'data/f/' + id + '.js'});
    script.onerror = function () {
      delete R.loading[id];
      if (state.current === id) clear(root).appendChild(el('p', {'class': 'error', text: 'Could not load data/f/' + id + '.js (is the export complete?)'}));
    };
    document.head.appendChild(script);
  }

  R.receiveFeature = function (d) {
    R.cache[d.id] = d;
    delete R.loading[d.id];
    if (state.current === d.id && R.view === 'feature') renderFeature(d);
  };

  /** A fact's row: its name and description, its variants (conjunctions) folded under it, F1 (a bar) and AUROC. */
  function factRow(f) {
    var n = (f.variants || []).length;
    return el('tr', {'class': 'fact', 'data-fact': f.fact}, el('td', {title: f.description || ''}, f.fact,
        f.description ? el('div', {'class': 'muted', style: 'font-size:11px', text: f.description}) : null,
        n ? el('details', {'class': 'variants'}, el('summary', {text: n + (n === 1 ? ' variant' : ' variants') + ' with another fact'}),
          el('ul', null, f.variants.map(function (v) {
            return el('li', {title: v.description || '', 'data-fact': v.fact}, v.fact + ' ',
              el('span', {'class': 'muted', text: 'F1 ' + fmt(v.f1, 2) + ' \u00b7 AUROC ' + fmt(v.auroc, 3)}));
          }))) : null),
      el('td', {'class': 'num', text: fmt(f.f1, 2)}),
      el('td', null, el('span', {'class': 'f1bar'}, el('i', {style: 'width:' + (100 * (isNum(f.f1) ? f.f1 : 0)).toFixed(1) + '%'}))),
      el('td', {'class': 'num', text: fmt(f.auroc, 3)}));
  }

  function signed(e) { return (e > 0 ? '+' : '') + fmt(e, 3); }

  function renderFeature(d) {
    var root = clear($('view-feature')), names = R.summary.action_names, prev = neighbour(d.id, -1), next = neighbour(d.id, 1);
    append(root, el('div', {'class': 'feature-head'},
      el('h1', {text: 'Feature ' + d.id}),
      el('span', {'class': 'label', text: d.label || (d.alive ? 'no label' : 'dead feature')}),
      d.label_scores ? el('span', {'class': 'label-scores'}, R.labelScores().map(function (c) {
        var v = d.label_scores[c.key];
        return isNum(v) ? el('span', {'class': 'badge', 'data-score': c.key, title: c.meaning.replace('{}', R.fmtSpec(v, c.format, c.unit)),
                                      text: c.name + ' ' + R.fmtSpec(v, c.format, c.unit)}) : null;
      })) : null,
      el('span', {'class': 'nav'},
        el('a', {href: '#features', 'class': 'back', text: '\u2190 list', onclick: function (e) {
          if (state.lastRoute === 'features') { e.preventDefault(); history.back(); }
        }}),
        prev !== null ? el('a', {href: '#feature/' + prev, 'class': 'prev', text: '\u2039 #' + prev}) : null,
        next !== null ? el('a', {href: '#feature/' + next, 'class': 'next', text: '#' + next + ' \u203a'}) : null)));
    append(root, el('div', {'class': 'cards'},
      card('status', d.alive ? 'alive' : 'dead'), card('density', fmtDensity(d.density)),
      card('max activation', fmt(d.max_activation)),
      card('cluster', d.cluster_id >= 0 ? el('a', {href: '#cluster/' + d.cluster_id, text: '#' + d.cluster_id + ' ' + (d.cluster_name || clusterName(d.cluster_id))}) : '\u2014')));
    append(root, R.trackLink(d.id));

    var grid = el('div', {'class': 'grid', style: 'margin-top:14px'});
    append(root, grid);
    // a Q-network's head gives values (advantages rank the actions); a policy's gives logits (centred logits
    // are log-probabilities up to one constant per state, and a shift shared by every logit changes nothing)
    var units = R.summary.output === 'policy'
      ? {centred: 'centred logit', raw: 'logit', shift: 'Shift of every logit (softmax ignores it): ',
         note: 'logit = the raw change of each action logit, shift included.'}
      : {centred: 'advantage', raw: 'Q', shift: 'Value shift (the same for every action): ',
         note: 'Q = the raw change of each Q-value, value shift included.'};

    if (d.alive) append(grid, explanationPanel(d));
    if (d.place_field) append(grid, placeFieldPanel(d.place_field));
    if (d.other_seed && R.foundThreshold() !== null) append(grid, otherSeedPanel(d.other_seed));
    var adv = d.advantage_effect, peak = Math.max.apply(null, adv.map(function (e) { return isNum(e) ? Math.abs(e) : 0; }));
    append(grid, el('div', {'class': 'panel', id: 'effects'}, el('h2', {text: 'Push on the policy'}),
      el('div', {'class': 'arrows-wrap'}, arrowsSvg(adv, names),
        el('table', {'class': 'effects'},
          el('thead', null, el('tr', null, el('th', {text: 'action'}), el('th', {'class': 'num', text: units.centred}),
                                           el('th', {'class': 'num', text: units.raw}))),
          el('tbody', null, adv.map(function (e, i) {
            return el('tr', null, el('td', {text: names[i]}),
              el('td', {'class': 'num ' + (e > 0 ? 'act-pos' : e < 0 ? 'act-neg' : ''), text: signed(e)}),
              el('td', {'class': 'num muted', text: signed(d.action_effect[i])}));
          })))),
      el('p', {'class': 'value-shift', text: units.shift + signed(d.value_shift) +
               ' per unit activation' + (Math.abs(d.value_shift) > peak ? ', larger than any difference between actions.' : '.')}),
      isNum(d.value_effect) ? el('p', {'class': 'value-effect', text: 'Value head: ' + signed(d.value_effect) +
                                       ' per unit activation (the critic’s estimate of the return).'}) : null,
      el('p', {'class': 'muted', style: 'font-size:12px;margin:6px 0 0',
               text: 'Arrows: (W_head − its mean row) · decoder direction, the change of each action’s ' + units.centred +
                     ' per unit activation. Blue encourages, red discourages; lengths relative to this feature’s largest (' +
                     fmt(peak, 3) + '). ' + units.note})));
    var hist = d.histogram || {edges: [], counts: []};
    append(grid, el('div', {'class': 'panel', id: 'histogram'}, el('h2', {text: 'Activations (non-zero)'}),
      histogramSvg(hist.edges, hist.counts, {xlabel: 'activation'})));
    append(grid, el('div', {'class': 'panel', id: 'facts'}, el('h2', {text: 'Game facts it detects'}),
      d.facts.length ? el('table', null,
        el('thead', null, el('tr', null, el('th', {text: 'fact'}),
          el('th', {'class': 'num', text: 'F1', title: 'held-out F1 of the feature as a detector of the fact'}), el('th'),
          el('th', {'class': 'num', text: 'AUROC', title: 'held-out AUROC (0.5 = chance)'}))),
        el('tbody', null, d.facts.map(factRow))) : el('p', {'class': 'muted', text: 'No fact scores.'}),
      d.facts.length ? el('p', {'class': 'muted', style: 'font-size:12px;margin:6px 0 0',
        text: 'Ranked by held-out F1 (the best of a fact and its variants); a fact\u2019s conjunctions with other ' +
              'facts fold under it.'}) : null));
    if (d.steering) append(grid, steeringPanel(d.steering, names));
    var lists = Object.keys(d.related || {});
    if (lists.length) append(grid, el('div', {'class': 'panel', id: 'related'}, el('h2', {text: 'Related units'}),
      lists.map(function (title) {
        return el('div', {'class': 'related'}, el('h3', {text: title}), el('div', {'class': 'chips'}, d.related[title].map(function (u) {
          var value = (u[2] > 0 && /weight/.test(title) ? '+' : '') + fmt(u[2], 2);
          if (u[0] !== 'feature') return el('span', {'class': 'neuron', 'data-unit': u[1]}, 'neuron ' + u[1] + ' ', el('small', {text: value}));
          var r = R.byId[u[1]] || {};
          return el('a', {href: '#feature/' + u[1], title: r.label || '', 'data-unit': u[1]}, '#' + u[1] + ' ', el('small', {text: value}));
        })));
      })));
    if (d.cluster_id >= 0 && R.clusterById[d.cluster_id]) {
      var c = R.clusterById[d.cluster_id];
      append(grid, el('div', {'class': 'panel', id: 'cluster'}, el('h2', null, 'Cluster ',
        el('a', {href: '#cluster/' + c.id, text: '#' + c.id + ' ' + c.name})), memberChips(c.members, d.id)));
    }
    var frames = el('div', {'class': 'panel wide', id: 'frames'}, el('h2', {text: 'States that activate it'}));
    if (!d.frames.length) append(frames, el('p', {'class': 'muted', text: d.alive ? 'No frames exported.' : 'Never active: no frames.'}));
    if (d.frames.length) append(frames, marksLegend(d), el('p', {'class': 'muted', style: 'font-size:12px;margin:0 0 6px',
      text: 'Click a frame for its clip: the steps before and after it, with the feature\u2019s activation over them.'}));
    d.frames.forEach(function (g) {
      append(frames, el('div', {'class': 'frames-group'}, el('h3', {text: g.title + ' (' + g.items.length + ')'}),
        el('div', {'class': 'frames'}, g.items.map(function (it) {
          var rel = d.max_activation > 0 && isNum(it.activation) ? Math.max(0, Math.min(1, it.activation / d.max_activation)) : 0;
          var tile = frameBox(it.frame, 160, d.region, 'state ' + it.step);
          tile.style.borderColor = 'rgba(31,111,235,' + (0.15 + 0.85 * rel).toFixed(2) + ')';
          return el('figure', {'class': 'frame'},
            el('a', {href: '#', onclick: function (e) { e.preventDefault(); openClip(it, d); }}, tile),
            el('figcaption', null, el('b', {text: fmt(it.activation, 3)}), ' \u00b7 step ' + it.step,
              it.caption ? el('div', {text: it.caption}) : null));
        }))));
    });
    append(root, frames);
  }

  /** The feature's explanation: the formula in words, "unexplained" plainly where it fails the rule, and every
   *  held-out number by the name and meaning ExplanationScores declares. */
  function explanationPanel(d) {
    var rule = R.summary.explain_rule, scores = d.explanation_scores;
    var verdict = d.explained ? el('span', {'class': 'verdict explained', text: 'explained'})
                              : el('span', {'class': 'verdict unexplained', text: 'unexplained'});
    var why = d.explained ? 'It passes the rule: ' + rule + '.'
      : d.explanation ? 'Its best formula fails the rule (' + rule + ').'
      : rule ? 'It fires on too few of the fitting states for a formula to be searched.'
      : 'No explanations were searched for this run.';
    return el('div', {'class': 'panel', id: 'explanation'}, el('h2', null, 'Explanation ', verdict),
      d.explanation ? el('p', {'class': 'formula', text: d.explanation}) : null,
      el('p', {'class': 'muted', style: 'font-size:12px;margin:4px 0 6px', text: why}),
      scores ? el('table', null, el('tbody', null, R.explanationScores().map(function (c) {
        var shown = R.fmtSpec(scores[c.key], c.format, c.unit);
        return el('tr', {'data-score': c.key}, el('td', {text: c.name}), el('td', {'class': 'num', text: shown}),
          el('td', {'class': 'muted', text: c.meaning.replace('{}', shown)}));
      }))) : null);
  }

  /** Hook for analysis/place.py: a heatmap of the feature's place field, one cell per tile (grey: never there). */
  function placeFieldPanel(p) {
    var rows = p.values.length, cols = p.values[0].length, cell = Math.max(4, Math.floor(240 / Math.max(rows, cols)));
    var peak = Math.max.apply(null, [0].concat.apply([], p.values).filter(isNum));
    var svg = U.sv('svg', {'class': 'place-field', width: cols * cell, height: rows * cell});
    p.values.forEach(function (row, y) {
      row.forEach(function (v, x) {
        var a = isNum(v) && peak > 0 ? Math.max(0, v) / peak : 0;
        append(svg, U.sv('rect', {x: x * cell, y: y * cell, width: cell, height: cell,
          fill: isNum(v) ? 'rgba(31,111,235,' + a.toFixed(3) + ')' : '#d0d4da'}, U.sv('title', {text: isNum(v) ? fmt(v, 3) : 'never there'})));
      });
    });
    return el('div', {'class': 'panel', id: 'place-field'}, el('h2', {text: 'Where it fires'}), svg,
      isNum(p.score) ? el('p', {'class': 'muted', style: 'font-size:12px;margin:6px 0 0', text: (p.score_name || 'score') + ': ' + fmt(p.score, 3)}) : null);
  }

  /** Whether another seed's SAE learns this feature too: its nearest feature there by decoder cosine, said
   *  plainly either way (feature ids of the other SAE are not in this browser, so they are not links). */
  function otherSeedPanel(o) {
    var t = R.foundThreshold(), one = o.matched >= 0 && o.matched !== o.nearest;
    return el('div', {'class': 'panel', id: 'other-seed'}, el('h2', null, 'Another seed ',
        el('span', {'class': 'verdict ' + (o.found ? 'explained' : 'unexplained'), text: o.found ? 'found again' : 'not found again'})),
      el('p', {'class': 'found-text', text: o.found
        ? 'Found again in the other seed\u2019s SAE: feature #' + o.nearest + ', decoder cosine ' + fmt(o.cosine, 2) + '.'
        : 'Not found again in the other seed\u2019s SAE (nearest cosine ' + fmt(o.cosine, 2) + ' < ' + fmt(t, 2) +
          ', its feature #' + o.nearest + ').'}),
      el('p', {'class': 'muted', style: 'font-size:12px;margin:4px 0 0', text:
        (one ? 'One to one (each of its features matched once): feature #' + o.matched + ', cosine ' + fmt(o.matched_cosine, 2) + '. ' : '') +
        'An SAE trained with another seed on the same activations; a feature both seeds learn is less the luck of one run ' +
        '(Paulo & Belrose 2025).'}));
  }

  function steeringPanel(s, names) {
    var delta = isNum(s.score_clean) && isNum(s.score_steered) ? s.score_steered - s.score_clean : null;
    return el('div', {'class': 'panel steer', id: 'steering'}, el('h2', {text: 'Steering: ' + s.mode + ' \u00d7' + fmt(s.strength)}),
      el('div', {'class': 'cards'}, card('action shift (TV)', fmt(s.tv_distance, 3)),
        card('score', fmt(s.score_clean) + ' \u2192 ' + fmt(s.score_steered) + (delta !== null ? ' (' + (delta >= 0 ? '+' : '') + fmt(delta) + ')' : ''))),
      s.note ? el('p', {'class': 'muted', text: s.note}) : null,
      s.action_clean && s.action_steered ? distributionSvg(s.action_clean, s.action_steered, names) : null,
      s.heatmap ? el('div', null, el('h3', {text: 'Where the player goes'}), el('img', {src: s.heatmap, alt: 'steering heatmap'})) : null,
      s.gif ? el('div', null, el('h3', {text: 'Steered play'}), el('img', {src: s.gif, alt: 'steered agent'})) : null);
  }

  /** Escape closes a clip, arrows step through it; on a feature page arrows (or j/k) go to the next feature. */
  function bindKeys() {
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && $('zoom')) { R.closeZoom(); return; }
      if ($('zoom') && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) { R.clipStep(e.key === 'ArrowRight' ? 1 : -1); return; }
      if (state.current === null || /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
      if (e.key === 'ArrowRight' || e.key === 'j') step(1);
      if (e.key === 'ArrowLeft' || e.key === 'k') step(-1);
    });
  }

  R.loadFeature = loadFeature; R.bindKeys = bindKeys;
})();
