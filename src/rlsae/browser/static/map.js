/* rlsae feature browser: the 2-D map of the live features on the summary page, with a search that
 * highlights the features it matches (the feature list's search: an id or words) and a choice of colour:
 * the fact family of a labeled feature's best fact (the default, where any feature is labeled) or its cluster.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, sv = U.sv, append = U.append, clear = U.clear;
  var R = window.RLSAE, clusterName = R.clusterName;
  var GREY = '#9aa1ab', FAMILIES_SHOWN = 10;

  function hue(i) { return 'hsl(' + ((i * 137.5) % 360).toFixed(0) + ',65%,48%)'; }
  /** "ball_x=0 ..." -> "ball_x": the fact a labeled feature detects best (the
   *  first of its facts, ranked by F1), less its value; a negated fact ("not lives=1") keeps its "not". */
  function family(r) {
    if (!r.label || !r.facts) return null;
    var not = r.facts.indexOf('not ') === 0 ? 'not ' : '';
    return not + r.facts.slice(not.length).split(' ')[0].split('=')[0];
  }

  /** Per colouring: a colour per row and the legend's entries [[text, colour]]. */
  function colouring(rows, by) {
    if (by === 'cluster') return {colours: rows.map(function (r) { return r.cluster_id >= 0 ? hue(r.cluster_id) : GREY; }),
                                  legend: [['grey: no cluster', GREY]]};
    var counts = {};
    rows.forEach(function (r) { var f = family(r); if (f) counts[f] = (counts[f] || 0) + 1; });
    var top = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || (a < b ? -1 : 1); })
      .slice(0, FAMILIES_SHOWN);
    return {colours: rows.map(function (r) { var i = top.indexOf(family(r)); return i >= 0 ? hue(i) : GREY; }),
            legend: top.map(function (f, i) { return [f.replace(/_/g, ' ') + ' (' + counts[f] + ')', hue(i)]; })
              .concat([['grey: another fact or no label', GREY]])};
  }

  function featureMap(rows) {
    var W = 600, H = 340, P = 8, svg = sv('svg', {width: '100%', viewBox: '0 0 ' + W + ' ' + H, 'class': 'feature-map',
                                                 role: 'img', 'aria-label': 'map of features'});
    var dots = rows.map(function (r) {
      var dot = sv('circle', {cx: (P + (r.map_xy[0] + 1) / 2 * (W - 2 * P)).toFixed(1),
                              cy: (P + (1 - r.map_xy[1]) / 2 * (H - 2 * P)).toFixed(1), r: 2.6,
                              'fill-opacity': 0.75, 'data-id': r.id,
                              onclick: function () { location.hash = '#feature/' + r.id; }},
        sv('title', {text: '#' + r.id + (r.label ? ' ' + r.label : '') + (r.cluster_id >= 0 ? ' (' + clusterName(r.cluster_id) + ')' : '')}));
      append(svg, dot);
      return dot;
    });
    var legend = el('div', {'class': 'map-legend', id: 'map-legend'});
    function paint(by) {
      var c = colouring(rows, by);
      dots.forEach(function (dot, i) { dot.setAttribute('fill', c.colours[i]); });
      clear(legend);
      c.legend.forEach(function (entry) { append(legend, el('span', null, el('i', {style: 'background:' + entry[1]}), entry[0])); });
    }
    var colourBy = el('select', {id: 'map-colour', 'aria-label': 'colour the map by'},
      el('option', {value: 'cluster', text: 'colour: cluster'}), el('option', {value: 'fact', text: 'colour: best fact'}));
    colourBy.addEventListener('change', function () { paint(colourBy.value); });
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
    // what a feature detects reads better than a cluster of decoder directions, where there are labels
    colourBy.value = rows.some(family) ? 'fact' : 'cluster';
    paint(colourBy.value);
    return el('div', null, el('div', {'class': 'map-search'}, search, colourBy, count), svg, legend);
  }

  R.featureMap = featureMap;
})();
