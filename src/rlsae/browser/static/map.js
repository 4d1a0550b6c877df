/* rlsae feature browser: the 2-D map of the live features on the summary page.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, sv = U.sv, append = U.append;
  var R = window.RLSAE, clusterName = R.clusterName;

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

  R.featureMap = featureMap;
})();
