/* rlsae feature browser: the cluster list (#clusters) and one cluster (#cluster/<id>).
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, append = U.append, clear = U.clear, $ = U.$,
      fmt = U.fmt, fmtDensity = U.fmtDensity;
  var R = window.RLSAE, actionName = R.actionName, memberChips = R.memberChips;

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
      el('thead', null, el('tr', null, ['feature', 'label', 'F1', 'density', 'pushes / against'].map(function (t) {
        return el('th', {text: t, 'class': t === 'F1' || t === 'density' ? 'num' : null});
      }))),
      el('tbody', null, c.members.map(function (m) {
        var r = R.byId[m] || {};
        return el('tr', null, el('td', null, el('a', {href: '#feature/' + m, text: '#' + m})), el('td', {text: r.label || ''}),
          el('td', {'class': 'num', text: fmt(r.f1, 2)}), el('td', {'class': 'num', text: fmtDensity(r.density)}),
          el('td', null, el('span', {'class': 'act-pos', text: actionName(r.top_action)}), ' / ', el('span', {'class': 'act-neg', text: actionName(r.bottom_action)})));
      })))));
  }

  R.renderClusters = renderClusters; R.renderCluster = renderCluster;
})();
