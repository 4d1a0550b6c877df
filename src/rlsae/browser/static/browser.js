/* rlsae feature browser. Plain JavaScript, no dependencies; works from file:// (data arrive as scripts).
 *
 * Data files call RLSAE.setSummary(...), RLSAE.setFeatures(...) and, on demand, RLSAE.receiveFeature(...).
 * Routes: #summary, #features, #feature/<id>, #clusters, #cluster/<id>.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, append = U.append, clear = U.clear, $ = U.$,
      isNum = U.isNum, fmt = U.fmt, fmtDensity = U.fmtDensity, fmtMetric = U.fmtMetric,
      sv = U.sv, histogramSvg = U.histogramSvg, lineSvg = U.lineSvg, sparklineSvg = U.sparklineSvg, arrowsSvg = U.arrowsSvg,
      distributionSvg = U.distributionSvg, POS = U.POS, NEG = U.NEG;
  var ROW_H = 32, OVERSCAN = 8;

  var R = window.RLSAE = {summary: null, table: null, rows: [], byId: {}, cache: {}, loading: {},
                          filtered: [], readyMs: null};
  var state = {query: '', alive: 'all', label: 'all', cluster: 'all', dmin: null, dmax: null, metric: 'label_f1',
               mmin: null, sort: 'id', asc: true, current: null, lastRoute: null};

  function actionName(i) { var n = R.summary.action_names; return i === null || i === undefined ? '' : n[i]; }
  function clusterName(id) { var c = R.clusterById[id]; return c ? c.name : ''; }

  // ---------- summary ----------
  function renderSummary() {
    var s = R.summary, root = clear($('view-summary'));
    append(root, el('h1', {text: s.title}));
    if (s.notes) append(root, el('p', {'class': 'muted', text: s.notes}));
    if ((s.headlines || []).length) append(root, el('ul', {'class': 'headlines', id: 'headlines'}, s.headlines.map(headline)));
    var nAlive = R.rows.filter(function (r) { return r.alive; }).length;
    var cards = el('div', {'class': 'cards'},
      card('game', s.agent.game), card('agent', (s.agent.algorithm || '') + ' \u00b7 ' + fmt(s.agent.steps) + ' steps'),
      card('agent score', fmt(s.agent.score)),
      card('SAE', s.sae.architecture + (s.sae.k ? ' k=' + s.sae.k : '')),
      card('d_in \u2192 d_sae', s.sae.d_in + ' \u2192 ' + s.sae.d_sae),
      card('features alive', nAlive + ' / ' + R.rows.length));
    append(root, cards);
    var grid = el('div', {'class': 'grid', style: 'margin-top:14px'});
    append(root, grid);
    var mapped = R.rows.filter(function (r) { return r.alive && r.map_xy; });
    if (mapped.length) {
      append(grid, el('div', {'class': 'panel', id: 'map'}, el('h2', {text: 'Map of the live features'}), featureMap(mapped),
        el('p', {'class': 'muted', style: 'font-size:12px;margin:6px 0 0',
                 text: 'First two principal components of the decoder directions: features that write alike sit together. ' +
                       'Colour = cluster (grey: none). Click a dot to open its feature.'})));
    }

    var metrics = Object.keys(s.metrics || {});
    if (metrics.length) {
      append(grid, el('div', {'class': 'panel', id: 'metrics'}, el('h2', {text: 'Metrics'}),
        el('table', null, el('tbody', null, metrics.map(function (k) {
          var unit = k === 'regret' ? '% of the Q range' : /^score/.test(k) ? 'points' : '';
          return el('tr', null, el('td', {title: k, text: METRIC_NAMES[k] || k.replace(/_/g, ' ')}),
            el('td', {'class': 'num', text: fmtMetric(k, s.metrics[k]) + (unit && isNum(s.metrics[k]) ? ' ' + unit : '')}));
        })))));
    }
    var fidRows = Object.keys(s.fidelity || {});
    if (fidRows.length) {
      var cols = [];
      fidRows.forEach(function (r) { Object.keys(s.fidelity[r]).forEach(function (c) { if (cols.indexOf(c) < 0) cols.push(c); }); });
      append(grid, el('div', {'class': 'panel', id: 'fidelity'}, el('h2', {text: 'Fidelity: spliced into the agent'}),
        el('table', null,
          el('thead', null, el('tr', null, el('th', {text: 'condition'}), cols.map(function (c) { return el('th', {'class': 'num', text: c}); }))),
          el('tbody', null, fidRows.map(function (r) {
            return el('tr', null, el('td', {text: r}), cols.map(function (c) {
              return el('td', {'class': 'num', text: fmtMetric(c, s.fidelity[r][c])});
            }));
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
          return lineSvg(s.training_curves.map(function (p) { return {x: p.step, y: p[k]}; }), k);
        }))));
    }
    var comp = s.label_comparison || {}, groups = Object.keys(comp);
    if (groups.length) {
      var stats = [['labeled_fraction', 'live units labeled'], ['mean_best_f1', 'best unit per fact: mean F1'],
        ['covered_fraction', 'facts with a unit at F1 \u2265 0.5'], ['mean_or_f1', 'OR of precise units: mean F1'],
        ['probe_k1_accuracy', 'k=1 probe accuracy'], ['mean_best_auroc', 'mean best AUROC'], ['count', 'units']];
      append(grid, el('div', {'class': 'panel', id: 'labels'}, el('h2', {text: 'Neurons vs features: how readable?'}),
        el('table', null,
          el('thead', null, el('tr', null, el('th'), groups.map(function (g) { return el('th', {'class': 'num', text: g}); }))),
          el('tbody', null, stats.map(function (st) {
            return el('tr', null, el('td', {text: st[1]}), groups.map(function (g) {
              return el('td', {'class': 'num', text: fmtMetric(st[0], comp[g][st[0]])});
            }));
          }))),
        groups.map(function (g) {
          var f = comp[g].labeled_fraction;
          return isNum(f) ? el('div', {style: 'margin-top:6px;font-size:12px'}, g + ' labeled ',
            el('span', {'class': 'aurocbar', style: 'width:160px'}, el('i', {style: 'left:0;width:' + (100 * f).toFixed(1) + '%'}))) : null;
        })));
    }
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
  /** "Best dying feature: #1571 <its own label> - fact holds on 83% of its 1,114 held-out firings (recall 85%)". */
  function headline(h) {
    var r = R.byId[h.feature] || {}, pct = function (x) { return isNum(x) ? Math.round(100 * x) + '%' : '\u2014'; };
    return el('li', null, 'Best ' + h.title + ' feature: ',
      el('a', {href: '#feature/' + h.feature, 'class': 'headline-link', text: '#' + h.feature}), ' ',
      el('span', {'class': 'label', text: r.label || 'no label'}),
      el('span', {'class': 'muted', text: ' \u2014 ' + h.description + ' on ' + pct(h.precision) + ' of its ' +
                  fmt(h.firings) + ' held-out firings (recall ' + pct(h.recall) + ')'}));
  }
  function featureMap(rows) {
    var S = 300, P = 8, svg = sv('svg', {width: '100%', viewBox: '0 0 ' + S + ' ' + S, 'class': 'feature-map', role: 'img',
                                         'aria-label': 'map of features'});
    rows.forEach(function (r) {
      var colour = r.cluster_id >= 0 ? 'hsl(' + ((r.cluster_id * 137.5) % 360).toFixed(0) + ',65%,48%)' : '#9aa1ab';
      append(svg, sv('circle', {cx: (P + (r.map_xy[0] + 1) / 2 * (S - 2 * P)).toFixed(1),
                                cy: (P + (1 - r.map_xy[1]) / 2 * (S - 2 * P)).toFixed(1), r: 2.6, fill: colour,
                                'fill-opacity': 0.75, 'data-id': r.id,
                                onclick: function () { location.hash = '#feature/' + r.id; }},
        sv('title', {text: '#' + r.id + (r.label ? ' ' + r.label : '') + (r.cluster_id >= 0 ? ' (' + clusterName(r.cluster_id) + ')' : '')})));
    });
    return svg;
  }
  // What each metric key means, in words (the key itself is the tooltip).
  var METRIC_NAMES = {
    fvu: 'variance unexplained (FVU)', l0: 'active features per state (L0)',
    dead_fraction: 'dead features on the evaluation\u2019s held-out states (the density panel counts its own sample)',
    dense_fraction: 'dense features (active on > 10% of states)', action_agreement: 'same greedy action as the agent',
    action_agreement_large_gap: 'same greedy action, where the best leads by more than the median gap',
    advantage_rel_error: 'advantage error (share of its variance)', regret: 'regret: Q lost by the spliced choice',
    score_clean: 'game score, clean agent', score_spliced: 'game score, SAE spliced in',
    score_zero_ablation: 'game score, layer zeroed', score_mean_ablation: 'game score, layer at its mean',
    live_features: 'live features', labeled_fraction: 'live features with a label',
    neuron_labeled_fraction: 'live neurons with a label'};
  function card(k, v) {
    return el('div', {'class': 'card'}, el('div', {'class': 'k', text: k}), el('div', {'class': 'v'}, v));
  }

  // ---------- feature list ----------
  var COLUMNS = [['id', 'id'], ['label', 'label'], ['label_score', 'AUROC'], ['label_precision', 'prec.'],
                 ['label_recall', 'recall'], ['label_f1', 'F1'], ['label_lift', 'lift'], ['density', 'density'],
                 ['max_activation', 'max act'], ['cluster_id', 'cluster'], ['top_action', 'pushes / against']];
  var NUMERIC = ['label_score', 'label_precision', 'label_recall', 'label_f1', 'label_lift', 'density', 'max_activation'];
  var COLUMN_TIPS = {label_precision: 'held-out share of its firings on which the label holds',
                     label_recall: 'held-out share of the label\u2019s states on which it fires',
                     label_f1: 'held-out F1 of the feature as a detector of its label',
                     label_lift: 'precision over the label\u2019s base rate'};

  // Words a reader may type for the same thing (any game); each query word matches any word of its group.
  // Fact names are searched with '_' as a space, so 'pill' already finds 'power pill' facts.
  var SYNONYMS = [['dead', 'dying', 'death', 'die', 'dies', 'killed', 'life lost'],
                  ['eat', 'eating', 'eats', 'eaten'], ['near', 'close', 'nearby'], ['far', 'distant']];
  function normalise(text) { return String(text || '').toLowerCase().replace(/_/g, ' '); }
  function queryTerms(q) {
    return normalise(q).split(/\s+/).filter(Boolean).map(function (w) {
      var group = SYNONYMS.filter(function (g) { return g.indexOf(w) >= 0; })[0];
      return group || [w];
    });
  }
  function matches(r, terms) {
    return terms.every(function (alts) { return alts.some(function (w) { return r.search.indexOf(w) >= 0; }); });
  }

  function applyFilters() {
    var q = state.query.trim().toLowerCase(), idq = /^#?\d+$/.test(q) ? parseInt(q.replace('#', ''), 10) : null,
        terms = queryTerms(q);
    var out = R.rows.filter(function (r) {
      if (state.alive === 'alive' && !r.alive) return false;
      if (state.alive === 'dead' && r.alive) return false;
      if (state.label === 'labeled' && !r.label) return false;
      if (state.label === 'unlabeled' && r.label) return false;
      if (state.cluster !== 'all' && String(r.cluster_id) !== state.cluster) return false;
      if ((state.dmin !== null || state.dmax !== null) && r.logd === null) return false;  // dead: no density
      if (state.dmin !== null && r.logd < state.dmin) return false;
      if (state.dmax !== null && r.logd > state.dmax) return false;
      if (state.mmin !== null && !(isNum(r[state.metric]) && r[state.metric] >= state.mmin)) return false;
      if (q) {
        if (idq !== null && r.id === idq) return true;
        return matches(r, terms);
      }
      return true;
    });
    var key = state.sort, sign = state.asc ? 1 : -1;
    out.sort(function (a, b) {
      var x = a[key], y = b[key];
      if (x === y) return a.id - b.id;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * sign;
    });
    R.filtered = out;
    if (R.view === 'features') history.replaceState(null, '', '#features' + filterQuery());
    $('list-count').textContent = out.length + ' of ' + R.rows.length + ' features';
    $('list-spacer').style.height = (out.length * ROW_H) + 'px';
    $('list').scrollTop = 0;
    renderHead();
    renderRows();
  }

  var FILTERS = [['q', 'query', 'search'], ['alive', 'alive', 'f-alive'], ['label', 'label', 'f-label'],
                 ['cluster', 'cluster', 'f-cluster'], ['dmin', 'dmin', 'f-dmin'], ['dmax', 'dmax', 'f-dmax'],
                 ['m', 'metric', 'f-metric'], ['mmin', 'mmin', 'f-mmin']];
  var DEFAULTS = {query: '', alive: 'all', label: 'all', cluster: 'all', dmin: null, dmax: null, metric: 'label_f1', mmin: null};
  var NUMBER_FILTERS = ['dmin', 'dmax', 'mmin'];
  function filterQuery() {
    var params = new URLSearchParams();
    FILTERS.forEach(function (f) { if (state[f[1]] !== DEFAULTS[f[1]]) params.set(f[0], state[f[1]]); });
    var text = params.toString();
    return text ? '?' + text : '';
  }
  /** Filters from a #features?... hash into the state and the form; true when they changed. */
  function readFilters(query) {
    var params = new URLSearchParams(query || ''), changed = false;
    FILTERS.forEach(function (f) {
      var raw = params.get(f[0]), value = raw === null ? DEFAULTS[f[1]] : NUMBER_FILTERS.indexOf(f[1]) >= 0 ? parseFloat(raw) : raw;
      if (typeof value === 'number' && isNaN(value)) value = null;
      if (value !== state[f[1]]) { state[f[1]] = value; changed = true; }
      $(f[2]).value = value === null ? '' : value;
    });
    return changed;
  }

  function renderHead() {
    var head = clear($('list-head'));
    COLUMNS.forEach(function (c) {
      var cls = (state.sort === c[0] ? 'sorted' + (state.asc ? ' asc' : '') : '') + (NUMERIC.indexOf(c[0]) >= 0 ? ' num' : '');
      append(head, el('span', {'class': cls, 'data-sort': c[0], text: c[1], title: COLUMN_TIPS[c[0]] || null, onclick: function () {
        if (state.sort === c[0]) state.asc = !state.asc; else { state.sort = c[0]; state.asc = c[0] === 'id' || c[0] === 'label'; }
        applyFilters();
      }}));
    });
  }

  function renderRows() {
    var list = $('list'), box = clear($('list-rows'));
    if (!R.filtered.length) { append(box, el('div', {'class': 'empty', text: 'No feature matches these filters.'})); return; }
    var first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - OVERSCAN);
    var last = Math.min(R.filtered.length, Math.ceil((list.scrollTop + (list.clientHeight || 800)) / ROW_H) + OVERSCAN);
    box.style.transform = 'translateY(' + (first * ROW_H) + 'px)';
    var frag = document.createDocumentFragment();
    for (var i = first; i < last; i++) frag.appendChild(rowElement(R.filtered[i]));
    box.appendChild(frag);
  }

  function rowElement(r) {
    return el('a', {'class': 'row' + (r.alive ? '' : ' dead'), href: '#feature/' + r.id, 'data-id': r.id},
      el('span', {text: '#' + r.id}),
      el('span', {text: r.label || (r.alive ? '' : 'dead'), title: r.label || ''}),
      el('span', {'class': 'num', text: fmt(r.label_score, 2)}),
      ['label_precision', 'label_recall', 'label_f1', 'label_lift'].map(function (k) {
        return el('span', {'class': 'num', text: fmt(r[k], 2)});
      }),
      el('span', {'class': 'num', text: fmtDensity(r.density)}),
      el('span', {'class': 'num', text: fmt(r.max_activation)}),
      el('span', {title: clusterName(r.cluster_id)}, r.cluster_id >= 0 ? el('span', {'class': 'pill', text: r.cluster_id}) : '',
         ' ', clusterName(r.cluster_id)),
      el('span', null, el('span', {'class': 'act-pos', text: actionName(r.top_action)}),
         r.top_action !== null && r.bottom_action !== null ? ' / ' : '',
         el('span', {'class': 'act-neg', text: actionName(r.bottom_action)})));
  }

  function bindControls() {
    var timer = null;
    $('search').addEventListener('input', function (e) {
      clearTimeout(timer);
      timer = setTimeout(function () { state.query = e.target.value; applyFilters(); }, 60);
    });
    [['f-alive', 'alive'], ['f-label', 'label'], ['f-cluster', 'cluster']].forEach(function (p) {
      $(p[0]).addEventListener('change', function (e) { state[p[1]] = e.target.value; applyFilters(); });
    });
    $('f-metric').addEventListener('change', function (e) { state.metric = e.target.value; applyFilters(); });
    [['f-dmin', 'dmin'], ['f-dmax', 'dmax'], ['f-mmin', 'mmin']].forEach(function (p) {
      $(p[0]).addEventListener('input', function (e) {
        var v = parseFloat(e.target.value); state[p[1]] = isNaN(v) ? null : v; applyFilters();
      });
    });
    $('f-reset').addEventListener('click', function () {
      $('filters').reset();
      Object.keys(DEFAULTS).forEach(function (k) { state[k] = DEFAULTS[k]; });
      applyFilters();
    });
    var pending = false;
    $('list').addEventListener('scroll', function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () { pending = false; renderRows(); });
    });
    var sel = $('f-cluster');
    R.summary.clusters.forEach(function (c) { append(sel, el('option', {value: String(c.id), text: c.id + ': ' + c.name})); });
    document.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && $('zoom')) { closeZoom(); return; }
      if ($('zoom') && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) { R.clipStep(e.key === 'ArrowRight' ? 1 : -1); return; }
      if (state.current === null || /INPUT|SELECT|TEXTAREA/.test(e.target.tagName)) return;
      if (e.key === 'ArrowRight' || e.key === 'j') step(1);
      if (e.key === 'ArrowLeft' || e.key === 'k') step(-1);
    });
  }

  // ---------- feature page ----------
  /** A frame of the frame table at ``width`` px: one tile of its sheet, with the player (a ring) and the region
   *  the label names (a dashed box) marked on it. */
  function frameBox(id, width, region, alt) {
    var t = R.frames.frames[id], size = R.summary.frame_size || [160, 210], W = size[0], H = size[1];
    var box = el('div', {'class': 'tile', 'data-frame': id, style: 'width:' + width + 'px;height:' + (width * H / W).toFixed(1) + 'px'},
      el('img', {src: R.frames.sheets[t[0]], alt: alt, decoding: 'async',
                 style: 'transform:translateY(-' + (100 * t[1] / t[2]).toFixed(4) + '%)'}));
    var marks = sv('svg', {'class': 'marks', viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none'});
    if (region) append(marks, sv('rect', {'class': 'region', x: region[0], y: region[1], width: region[2] - region[0],
                                           height: region[3] - region[1]}));
    if (isNum(t[3]) && isNum(t[4])) append(marks, sv('circle', {'class': 'player', cx: t[3], cy: t[4], r: 8}));
    append(box, marks);
    return box;
  }
  function marksLegend(d) {
    return el('p', {'class': 'muted legend'}, el('span', {'class': 'key-player'}), ' ' + (R.summary.player || 'the player') + ' (from the RAM)',
      d.region ? [' ', el('span', {'class': 'key-region'}), ' where the label holds'] : null);
  }
  function closeZoom() { var z = $('zoom'); if (z) { clearInterval(R.clipTimer); R.clipTimer = null; z.remove(); } }

  /** An example's clip over the page: the frame at three times its size, the strip of steps around it, the
   *  feature's activation over them, play/pause; a click outside, the close button or Escape closes it. */
  function openClip(it, d) {
    closeZoom();
    var clip = it.clip || {frames: [it.frame], activations: [it.activation], centre: 0}, at = clip.centre;
    var big = el('div', {'class': 'clip-frame'}), strip = el('div', {'class': 'strip'}), curve = el('div', {'class': 'clip-curve'});
    var caption = el('figcaption'), play = el('button', {type: 'button', 'class': 'play', text: '\u25B6 play'});
    var offsets = clip.frames.map(function (_, i) { return i - clip.centre; });
    function show(i) {
      at = (i + clip.frames.length) % clip.frames.length;
      clear(big).appendChild(frameBox(clip.frames[at], 420, d.region, 'step ' + offsets[at]));
      Array.prototype.forEach.call(strip.children, function (c, k) { c.classList.toggle('current', k === at); });
      clear(curve).appendChild(sparklineSvg(clip.activations, at, {max: d.max_activation, width: 320}));
      var a = clip.activations[at];
      caption.textContent = 'Feature ' + d.id + ' at ' + (isNum(a) ? fmt(a, 3) : '\u2014') + ' (max ' + fmt(d.max_activation, 3) + ') \u00b7 ' +
        (offsets[at] === 0 ? 'the example' : (offsets[at] > 0 ? '+' : '') + offsets[at] + ' steps from the example') +
        (it.caption ? ' \u00b7 ' + it.caption : '');
    }
    function stop() { clearInterval(R.clipTimer); R.clipTimer = null; play.textContent = '\u25B6 play'; }
    clip.frames.forEach(function (f, i) {
      append(strip, el('a', {href: '#', 'class': i === clip.centre ? 'centre' : null, title: (offsets[i] > 0 ? '+' : '') + offsets[i],
                             onclick: function (e) { e.preventDefault(); stop(); show(i); }}, frameBox(f, 40, null, 'step ' + offsets[i])));
    });
    play.addEventListener('click', function () {
      if (R.clipTimer) { stop(); return; }
      play.textContent = '\u275A\u275A pause';
      R.clipTimer = setInterval(function () { show(at + 1); }, 150);
    });
    R.clipStep = function (delta) { stop(); show(at + delta); };
    var box = el('div', {'class': 'zoom', id: 'zoom', role: 'dialog', onclick: function (e) { if (e.target === box) closeZoom(); }},
      el('figure', null, big, el('div', {'class': 'clip-side'}, caption, curve, strip,
        el('div', {'class': 'clip-controls'}, play,
          el('button', {type: 'button', text: '\u2039', title: 'previous step', onclick: function () { R.clipStep(-1); }}),
          el('button', {type: 'button', text: '\u203a', title: 'next step', onclick: function () { R.clipStep(1); }}),
          el('button', {type: 'button', 'class': 'close', text: 'close', onclick: closeZoom}),
          el('span', {text: clip.frames.length + ' steps; the line is the feature\u2019s activation, the bar the step shown.'})),
        marksLegend(d))));
    document.body.appendChild(box);
    show(at);
  }
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

  function signed(e) { return (e > 0 ? '+' : '') + fmt(e, 3); }

  function renderFeature(d) {
    var root = clear($('view-feature')), names = R.summary.action_names, prev = neighbour(d.id, -1), next = neighbour(d.id, 1);
    append(root, el('div', {'class': 'feature-head'},
      el('h1', {text: 'Feature ' + d.id}),
      el('span', {'class': 'label', text: d.label || (d.alive ? 'no label' : 'dead feature')}),
      isNum(d.label_score) ? el('span', {'class': 'pill', text: 'AUROC ' + fmt(d.label_score, 3)}) : null,
      isNum(d.label_precision) ? el('span', {'class': 'pill', title: 'share of the states where it fires on which the label holds',
                                             text: 'holds when firing ' + Math.round(100 * d.label_precision) + '%'}) : null,
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

    var grid = el('div', {'class': 'grid', style: 'margin-top:14px'});
    append(root, grid);
    var adv = d.advantage_effect, peak = Math.max.apply(null, adv.map(function (e) { return isNum(e) ? Math.abs(e) : 0; }));
    append(grid, el('div', {'class': 'panel', id: 'effects'}, el('h2', {text: 'Push on the policy'}),
      el('div', {'class': 'arrows-wrap'}, arrowsSvg(adv, names),
        el('table', {'class': 'effects'},
          el('thead', null, el('tr', null, el('th', {text: 'action'}), el('th', {'class': 'num', text: 'advantage'}),
                                           el('th', {'class': 'num', text: 'Q'}))),
          el('tbody', null, adv.map(function (e, i) {
            return el('tr', null, el('td', {text: names[i]}),
              el('td', {'class': 'num ' + (e > 0 ? 'act-pos' : e < 0 ? 'act-neg' : ''), text: signed(e)}),
              el('td', {'class': 'num muted', text: signed(d.action_effect[i])}));
          })))),
      el('p', {'class': 'value-shift', text: 'Value shift (the same for every action): ' + signed(d.value_shift) +
               ' per unit activation' + (Math.abs(d.value_shift) > peak ? ', larger than any difference between actions.' : '.')}),
      el('p', {'class': 'muted', style: 'font-size:12px;margin:6px 0 0',
               text: 'Arrows: (W_head − its mean row) · decoder direction, the change of each action’s advantage ' +
                     'per unit activation. Blue encourages, red discourages; lengths relative to this feature’s largest (' +
                     fmt(peak, 3) + '). Q = the raw change of each Q-value, value shift included.'})));
    var hist = d.histogram || {edges: [], counts: []};
    append(grid, el('div', {'class': 'panel', id: 'histogram'}, el('h2', {text: 'Activations (non-zero)'}),
      histogramSvg(hist.edges, hist.counts, {xlabel: 'activation'})));
    append(grid, el('div', {'class': 'panel', id: 'facts'}, el('h2', {text: 'Game facts it detects'}),
      d.facts.length ? el('table', null,
        el('thead', null, el('tr', null, el('th', {text: 'fact'}), el('th', {'class': 'num', text: 'AUROC'}), el('th'))),
        el('tbody', null, d.facts.map(function (f) {
          var a = isNum(f.auroc) ? f.auroc : 0.5, left = Math.min(a, 0.5), width = Math.abs(a - 0.5);
          return el('tr', null, el('td', {title: f.description || '', text: f.fact},
              f.description ? el('div', {'class': 'muted', style: 'font-size:11px', text: f.description}) : null),
            el('td', {'class': 'num', text: fmt(f.auroc, 3)}),
            el('td', null, el('span', {'class': 'aurocbar'}, el('i', {style: 'left:' + (100 * left).toFixed(1) + '%;width:' +
              (100 * width).toFixed(1) + '%;background:' + (a >= 0.5 ? POS : NEG)}))));
        }))) : el('p', {'class': 'muted', text: 'No fact scores.'})));
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

  function memberChips(members, current) {
    return el('div', {'class': 'chips'}, members.map(function (m) {
      var r = R.byId[m];
      return el('a', {href: '#feature/' + m, 'class': m === current ? 'current' : null, title: r && r.label ? r.label : '', text: '#' + m});
    }));
  }

  // ---------- clusters ----------
  function renderClusters() {
    var root = clear($('view-clusters')), cs = R.summary.clusters;
    append(root, el('h1', {text: 'Clusters'}));
    if (!cs.length) { append(root, el('p', {'class': 'muted', text: 'This export has no clusters.'})); return; }
    append(root, el('div', {'class': 'panel'}, el('table', null,
      el('thead', null, el('tr', null, el('th', {text: 'id'}), el('th', {text: 'name'}), el('th', {'class': 'num', text: 'size'}), el('th', {text: 'members'}))),
      el('tbody', null, cs.map(function (c) {
        var shown = c.members.slice(0, 12);
        return el('tr', null, el('td', null, el('a', {href: '#cluster/' + c.id, text: '#' + c.id})),
          el('td', null, el('a', {href: '#cluster/' + c.id, text: c.name})), el('td', {'class': 'num', text: c.members.length}),
          el('td', null, memberChips(shown, null), c.members.length > shown.length ? el('span', {'class': 'muted', text: ' +' + (c.members.length - shown.length) + ' more'}) : null));
      })))));
  }

  function renderCluster(id) {
    var root = clear($('view-cluster')), c = R.clusterById[id];
    if (!c) { append(root, el('p', {'class': 'error', text: 'There is no cluster ' + id + '.'})); return; }
    append(root, el('h1', {text: 'Cluster ' + c.id + ': ' + c.name}));
    append(root, el('p', null, el('a', {href: '#clusters', text: '\u2190 all clusters'})));
    append(root, el('div', {'class': 'panel'}, el('table', null,
      el('thead', null, el('tr', null, ['feature', 'label', 'AUROC', 'density', 'pushes / against'].map(function (t) {
        return el('th', {text: t, 'class': t === 'AUROC' || t === 'density' ? 'num' : null});
      }))),
      el('tbody', null, c.members.map(function (m) {
        var r = R.byId[m] || {};
        return el('tr', null, el('td', null, el('a', {href: '#feature/' + m, text: '#' + m})), el('td', {text: r.label || ''}),
          el('td', {'class': 'num', text: fmt(r.label_score, 2)}), el('td', {'class': 'num', text: fmtDensity(r.density)}),
          el('td', null, el('span', {'class': 'act-pos', text: actionName(r.top_action)}), ' / ', el('span', {'class': 'act-neg', text: actionName(r.bottom_action)})));
      })))));
  }

  // ---------- routing ----------
  function show(view) {
    R.view = view;
    ['summary', 'features', 'feature', 'clusters', 'cluster'].forEach(function (v) { $('view-' + v).hidden = v !== view; });
    var navView = view === 'feature' ? 'features' : view === 'cluster' ? 'clusters' : view;
    Array.prototype.forEach.call(document.querySelectorAll('header nav a'), function (a) {
      a.classList.toggle('active', a.getAttribute('data-view') === navView);
    });
  }

  function route() {
    var parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/'), name = parts[0], arg = parseInt(parts[1], 10);
    if (name === 'feature' && !isNaN(arg)) { show('feature'); loadFeature(arg); window.scrollTo(0, 0); }
    else {
      state.current = null;
      if (name === 'features') {
        show('features');
        var query = location.hash.split('?')[1];
        if (query !== undefined && readFilters(query)) applyFilters();
        else { history.replaceState(null, '', '#features' + filterQuery()); renderRows(); }
      }
      else if (name === 'clusters') { show('clusters'); renderClusters(); }
      else if (name === 'cluster' && !isNaN(arg)) { show('cluster'); renderCluster(arg); }
      else show('summary');
    }
    state.lastRoute = name;
  }

  R.setSummary = function (s) { R.summary = s; };
  R.setFeatures = function (t) { R.table = t; };
  R.setFrames = function (t) { R.frames = t; };

  R.start = function () {
    if (!R.summary || !R.table) {
      clear($('view-summary')).appendChild(el('p', {'class': 'error', text: 'The data files (data/summary.js, data/features.js) did not load.'}));
      return;
    }
    var cols = R.table.columns;
    R.rows = R.table.rows.map(function (values) {
      var r = {};
      cols.forEach(function (c, i) { r[c] = values[i]; });
      r.logd = r.density > 0 ? Math.log10(r.density) : null;
      R.byId[r.id] = r;
      return r;
    });
    R.clusterById = {};
    R.summary.clusters.forEach(function (c) { R.clusterById[c.id] = c; });
    R.rows.forEach(function (r) {
      r.search = normalise(['#' + r.id, r.label, r.facts, r.cluster_id >= 0 ? clusterName(r.cluster_id) : ''].join(' '));
    });
    renderSummary();
    bindControls();
    applyFilters();
    window.addEventListener('hashchange', route);
    route();
    R.readyMs = performance.now();
    document.body.setAttribute('data-ready', '1');
  };
})();
