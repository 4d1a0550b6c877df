/* rlsae feature browser. Plain JavaScript, no dependencies; works from file:// (data arrive as scripts).
 * 
 * Data files call RLSAE.setSummary(...), RLSAE.setFeatures(...) and, on demand, RLSAE.receiveFeature(...).
 * Routes: #summary, #features, #feature/<id>, #clusters, #cluster/<id>, and those other files add to R.routes
 * (track.js: #timeline/<id>, #learned). This file routes and starts; the pages live in summary.js, list.js,
 * feature.js (with frames.js), clusters.js and track.js, shared code in common.js.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, clear = U.clear, $ = U.$;
  var R = window.RLSAE, state = R.state;

  function show(view) {
    R.view = view;
    Array.prototype.forEach.call(document.querySelectorAll('main > section.view'), function (s) { s.hidden = s.id !== 'view-' + view; });
    var navView = view === 'feature' ? 'features' : view === 'cluster' ? 'clusters' : view;
    Array.prototype.forEach.call(document.querySelectorAll('header nav a'), function (a) {
      a.classList.toggle('active', a.getAttribute('data-view') === navView);
    });
  }

  function route() {
    var parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/'), name = parts[0], arg = parseInt(parts[1], 10);
    if (name === 'feature' && !isNaN(arg)) { show('feature'); R.loadFeature(arg); window.scrollTo(0, 0); }
    else {
      state.current = null;
      if (name === 'features') {
        show('features');
        var query = location.hash.split('?')[1];
        if (query !== undefined && R.readFilters(query)) R.applyFilters();
        else { history.replaceState(null, '', '#features' + R.filterQuery()); R.renderRows(); }
      }
      else if (name === 'clusters') { show('clusters'); R.renderClusters(); }
      else if (name === 'cluster' && !isNaN(arg)) { show('cluster'); R.renderCluster(arg); }
      else if (R.routes[name]) { show(name); R.routes[name](parts[1], location.hash.split('?')[1]); window.scrollTo(0, 0); }
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
      r.search = R.normalise(['#' + r.id, r.label, r.explanation, r.facts, r.cluster_id >= 0 ? R.clusterName(r.cluster_id) : ''].join(' '));
    });
    R.startTrack();
    R.renderSummary();
    R.bindControls();
    R.bindKeys();
    R.applyFilters();
    window.addEventListener('hashchange', route);
    route();
    R.readyMs = performance.now();
    document.body.setAttribute('data-ready', '1');
  };
})();
