/* rlsae feature browser: the feature list (#features): search, filters (kept in the URL), sorting and
 * a virtualised list of rows.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, append = U.append, clear = U.clear, $ = U.$,
      isNum = U.isNum, fmt = U.fmt, fmtDensity = U.fmtDensity;
  var R = window.RLSAE, state = R.state, actionName = R.actionName, clusterName = R.clusterName, normalise = R.normalise;

  var ROW_H = 32, OVERSCAN = 8;

  // ---------- feature list ----------
  // [key, title, tip]: the label's scores come from the summary (R.labelScores), so a new one shows up here.
  // The explanation and its held-out F1 (ExplanationScores' name for it) follow the label's scores.
  // With another seed's SAE: the decoder cosine of each feature's nearest feature there ("found again" at the threshold).
  function columns() {
    var f1 = R.explanationF1(), found = R.foundThreshold();
    return [['id', 'id'], ['label', 'label']].concat(R.labelScores().map(function (c) { return [c.key, c.name, R.scoreTip(c)]; }),
      [['explanation', 'explanation', 'the formula of game facts that agrees best with the feature; grey: unexplained'],
       ['explanation_f1', 'expl. ' + f1.name, 'explanation ' + R.scoreTip(f1)]],
      found === null ? [] : [['found_cosine', 'seed cos', 'found again: the decoder cosine of the nearest feature in the SAE ' +
                              'trained with another seed; bold: at least ' + fmt(found, 2)]],
      [['density', 'density'], ['max_activation', 'max act'], ['cluster_id', 'cluster'], ['top_action', 'pushes / against']]);
  }
  function isNumeric(key) {
    return key === 'density' || key === 'max_activation' || key === 'explanation_f1' || key === 'found_cosine' ||
      R.labelScores().some(function (c) { return c.key === key; });
  }
  // One grid track per column: 48px for each label score.
  function gridStyle() {
    return 'grid-template-columns:56px minmax(120px, 1fr) ' + R.labelScores().map(function () { return '48px '; }).join('') +
      'minmax(120px, 1.5fr) 62px ' + (R.foundThreshold() === null ? '' : '62px ') + '64px 56px minmax(80px, 180px) 120px';
  }

  // Words a reader may type for the same thing (any game); each query word matches any word of its group.
  // Fact names are searched with '_' as a space, so 'ball x' already finds 'ball_x' facts.
  var SYNONYMS = [['dead', 'dying', 'death', 'die', 'dies', 'killed', 'life lost'],
                  ['eat', 'eating', 'eats', 'eaten'], ['near', 'close', 'nearby'], ['far', 'distant']];
  function queryTerms(q) {
    return normalise(q).split(/\s+/).filter(Boolean).map(function (w) {
      var group = SYNONYMS.filter(function (g) { return g.indexOf(w) >= 0; })[0];
      return group || [w];
    });
  }
  function matches(r, terms) {
    return terms.every(function (alts) { return alts.some(function (w) { return r.search.indexOf(w) >= 0; }); });
  }

  /** Whether a row matches a search box's text: its id (12 or #12) or every word (or a synonym of it). */
  function rowMatcher(text) {
    var q = text.trim().toLowerCase(), idq = /^#?\d+$/.test(q) ? parseInt(q.replace('#', ''), 10) : null,
        terms = queryTerms(q);
    return function (r) { return (idq !== null && r.id === idq) || matches(r, terms); };
  }

  function applyFilters() {
    var q = state.query.trim(), match = rowMatcher(q);
    var out = R.rows.filter(function (r) {
      if (state.alive === 'alive' && !r.alive) return false;
      if (state.alive === 'dead' && r.alive) return false;
      if (state.label === 'labeled' && !r.label) return false;
      if (state.label === 'unlabeled' && r.label) return false;
      if (state.explained === 'explained' && !r.explained) return false;
      if (state.explained === 'unexplained' && (r.explained || !r.alive)) return false;
      if (state.xmin !== null && !(isNum(r.explanation_f1) && r.explanation_f1 >= state.xmin)) return false;
      if (state.cluster !== 'all' && String(r.cluster_id) !== state.cluster) return false;
      if ((state.dmin !== null || state.dmax !== null) && r.logd === null) return false;  // dead: no density
      if (state.dmin !== null && r.logd < state.dmin) return false;
      if (state.dmax !== null && r.logd > state.dmax) return false;
      if (state.mmin !== null && !(isNum(r[state.metric]) && r[state.metric] >= state.mmin)) return false;
      return !q || match(r);
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
                 ['m', 'metric', 'f-metric'], ['mmin', 'mmin', 'f-mmin'], ['x', 'explained', 'f-explained'],
                 ['xmin', 'xmin', 'f-xmin']];
  var DEFAULTS = {query: '', alive: 'all', label: 'all', cluster: 'all', dmin: null, dmax: null, metric: 'f1', mmin: null,
                  explained: 'all', xmin: null};
  var NUMBER_FILTERS = ['dmin', 'dmax', 'mmin', 'xmin'];
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
    head.setAttribute('style', gridStyle());
    columns().forEach(function (c) {
      var cls = (state.sort === c[0] ? 'sorted' + (state.asc ? ' asc' : '') : '') + (isNumeric(c[0]) ? ' num' : '');
      append(head, el('span', {'class': cls, 'data-sort': c[0], text: c[1], title: c[2] || null, onclick: function () {
        if (state.sort === c[0]) state.asc = !state.asc;
        else { state.sort = c[0]; state.asc = c[0] === 'id' || c[0] === 'label' || c[0] === 'explanation'; }
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
    return el('a', {'class': 'row' + (r.alive ? '' : ' dead'), href: '#feature/' + r.id, 'data-id': r.id, style: gridStyle()},
      el('span', {text: '#' + r.id}),
      el('span', {text: r.label || (r.alive ? '' : 'dead'), title: r.label || ''}),
      R.labelScores().map(function (c) {
        return el('span', {'class': 'num', text: r.label ? R.fmtSpec(r[c.key], c.format) : ''});
      }),
      el('span', {'class': r.explained ? 'explanation' : 'explanation muted', title: r.explanation || '',
                  text: !r.alive ? '' : r.explained ? r.explanation : 'unexplained'}),
      el('span', {'class': 'num' + (r.explained ? '' : ' muted'), text: isNum(r.explanation_f1) ? R.fmtSpec(r.explanation_f1, R.explanationF1().format) : ''}),
      R.foundThreshold() === null ? null : el('span', {'class': 'num found-cosine' + (r.found_cosine >= R.foundThreshold() ? ' found' : ' muted'),
                                                      text: isNum(r.found_cosine) ? fmt(r.found_cosine, 2) : ''}),
      el('span', {'class': 'num', text: fmtDensity(r.density)}),
      el('span', {'class': 'num', text: fmt(r.max_activation)}),
      el('span', {title: clusterName(r.cluster_id)}, r.cluster_id >= 0 ? el('span', {'class': 'badge', text: r.cluster_id}) : '',
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
    [['f-alive', 'alive'], ['f-label', 'label'], ['f-cluster', 'cluster'], ['f-explained', 'explained']].forEach(function (p) {
      $(p[0]).addEventListener('change', function (e) { state[p[1]] = e.target.value; applyFilters(); });
    });
    var metric = $('f-metric');
    R.labelScores().forEach(function (c) { append(metric, el('option', {value: c.key, text: c.name, title: R.scoreTip(c)})); });
    metric.value = state.metric;
    $('f-metric').addEventListener('change', function (e) { state.metric = e.target.value; applyFilters(); });
    [['f-dmin', 'dmin'], ['f-dmax', 'dmax'], ['f-mmin', 'mmin'], ['f-xmin', 'xmin']].forEach(function (p) {
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
  }

  R.applyFilters = applyFilters; R.readFilters = readFilters; R.filterQuery = filterQuery; R.renderRows = renderRows;
  R.bindControls = bindControls; R.rowMatcher = rowMatcher;
})();
