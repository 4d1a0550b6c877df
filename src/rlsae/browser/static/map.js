/* rlsae feature browser: the 2-D map of the live features on the summary page, with a search that
 * highlights the features it matches (the feature list's search: an id or words).
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, sv = U.sv, append = U.append;
  var R = window.RLSAE, clusterName = R.clusterName;

  function featureMap(rows) {
    var W = 600, H = 340, P = 8, svg = sv('svg', {width: '100%', viewBox: '0 0 ' + W + ' ' + H, 'class': 'feature-map',
                                                 role: 'img', 'aria-label': 'map of features'});
    var dots = rows.map(function (r) {
      var colour = r.cluster_id >= 0 ? 'hsl(' + ((r.cluster_id * 137.5) % 360).toFixed(0) + ',65%,48%)' : '#9aa1ab';
      var dot = sv('circle', {cx: (P + (r.map_xy[0] + 1) / 2 * (W - 2 * P)).toFixed(1),
                              cy: (P + (1 - r.map_xy[1]) / 2 * (H - 2 * P)).toFixed(1), r: 2.6, fill: colour,
                              'fill-opacity': 0.75, 'data-id': r.id,
                              onclick: function () { location.hash = '#feature/' + r.id; }},
        sv('title', {text: '#' + r.id + (r.label ? ' ' + r.label : '') + (r.cluster_id >= 0 ? ' (' + clusterName(r.cluster_id) + ')' : '')}));
      append(svg, dot);
      return dot;
    });
    var count = el('span', {'class': 'muted', id: 'map-count'});
    var search = el('input', {type: 'search', id: 'map-search', placeholder: 'Highlight: id, label, fact or cluster name',
                              'aria-label': 'highlight features on the map'});
    search.addEventListener('input', function () {
      var q = search.value.trim(), match = R.rowMatcher(q), n = 0;
      svg.classList.toggle('searching', q !== '');
      rows.forEach(function (r, i) {
        var hit = q !== '' && match(r);
        n += hit ? 1 : 0;
        dots[i].classList.toggle('match', hit);
        // drawn last, so a match is on top of the others
        if (hit) svg.appendChild(dots[i]);
      });
      count.textContent = q ? n + ' of ' + rows.length + ' match' : '';
    });
    return el('div', null, el('div', {'class': 'map-search'}, search, count), svg);
  }

  R.featureMap = featureMap;
})();
