/* rlsae feature browser: the app's shared state and the helpers more than one page uses.
 * Creates window.RLSAE; the page files (summary, map, list, frames, feature, clusters) add their renderers
 * to it and browser.js routes between them.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el;

  var R = window.RLSAE = {summary: null, table: null, rows: [], byId: {}, cache: {}, loading: {},
                          filtered: [], readyMs: null};
  var state = {query: '', alive: 'all', label: 'all', cluster: 'all', dmin: null, dmax: null, metric: 'label_f1',
               mmin: null, sort: 'id', asc: true, current: null, lastRoute: null};
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

  R.actionName = actionName; R.clusterName = clusterName; R.card = card; R.normalise = normalise;
  R.memberChips = memberChips;
})();
