/* rlsae feature browser: features across the agent's checkpoints, when the export was built with
 * `rlsae browse --track FILE` (data/track.js, loaded on demand).
 * Routes: #timeline/<id> (one feature's line of ancestors back through the checkpoints) and
 * #learned?a=<i>&b=<j> (what the features did between two checkpoints: born, lost, split, merged).
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, append = U.append, clear = U.clear, $ = U.$, fmt = U.fmt;
  var R = window.RLSAE, waiting = [];

  function available() { return !!(R.summary && R.summary.track); }

  // data/track.js calls RLSAE.setTrack; views asked for before it arrived render then.
  function withTrack(render) {
    if (R.track) { render(); return; }
    waiting.push(render);
    if (waiting.length > 1) return;
    var script = el('script', {src: R.summary.track});
    script.onerror = function () {
      waiting = [];
      append(clear($('view-' + R.view)), el('p', {'class': 'error', text: 'Could not load ' + R.summary.track + ' (is the export complete?)'}));
    };
    document.body.appendChild(script);
  }
  R.setTrack = function (t) {
    R.track = t;
    var pending = waiting; waiting = [];
    pending.forEach(function (render) { render(); });
  };

  function name(i) { return R.track.checkpoints[i]; }
  // A feature of the browsed checkpoint links to its page and timeline; one of another checkpoint is only an id.
  function featureRef(t, id) {
    if (t !== R.track.current) return el('span', {'class': 'muted', text: '#' + id});
    var r = R.byId[id];
    return el('a', {href: '#timeline/' + id, 'class': 'track-feature', title: r && r.label ? r.label : '', text: '#' + id});
  }
  function refs(t, ids) {
    var out = [];
    ids.forEach(function (id, k) { if (k) out.push(', '); out.push(featureRef(t, id)); });
    return out;
  }
  function unavailable(root) {
    append(root, el('p', {'class': 'muted', text: 'This export has no feature lineage: build it with `rlsae browse --track track.json` (written by `rlsae track`).'}));
  }

  function renderTimeline(arg) {
    var root = clear($('view-timeline')), id = parseInt(arg, 10);
    if (!available()) { unavailable(root); return; }
    withTrack(function () {
      if (R.view !== 'timeline') return;
      root = clear($('view-timeline'));
      var stages = R.track.timelines[id];
      if (!stages) { append(root, el('p', {'class': 'error', text: 'There is no feature ' + arg + ' at checkpoint ' + name(R.track.current) + '.'})); return; }
      var r = R.byId[id] || {}, byStage = {};
      stages.forEach(function (s) { byStage[s[0]] = s; });
      append(root, [el('h1', {text: 'Feature ' + id + ' across checkpoints'}),
        el('p', null, el('a', {href: '#feature/' + id, text: '\u2190 feature ' + id}), ' \u00b7 ',
          el('span', {'class': 'label', text: r.label || 'no label'})),
        el('p', {'class': 'muted', id: 'timeline-born', text: 'Born at ' + name(stages[0][0]) + '; traced back through ' +
          (stages.length - 1) + ' checkpoint' + (stages.length === 2 ? '' : 's') + ' by ' + R.track.measure +
          ' (an ancestor needs ' + R.track.threshold + ' or more).'})]);
      var strip = el('div', {'class': 'timeline', id: 'timeline-strip'});
      R.track.checkpoints.slice(0, R.track.current + 1).forEach(function (cname, t) {
        var s = byStage[t];
        append(strip, el('div', {'class': 'stage' + (s ? ' present' : ''), 'data-checkpoint': cname,
                                 title: s ? cname + ': feature #' + s[1] : cname + ': not yet born'},
          el('div', {'class': 'k', text: cname}), el('div', {'class': 'v', text: s ? '#' + s[1] : '\u2014'}),
          el('div', {'class': 'sim', text: s && s[2] !== null ? fmt(s[2], 3) : ''})));
      });
      append(root, el('div', {'class': 'panel'}, el('h2', {text: 'Line of ancestors'}), strip,
        el('table', {id: 'timeline-table'}, el('thead', null, el('tr', null, ['checkpoint', 'feature', R.track.measure + ' to its ancestor', 'what happened', 'explanation'].map(function (h) { return el('th', {text: h}); }))),
          el('tbody', null, stages.map(function (s) {
            var events = [];
            if (s[2] === null) events.push('born');
            if (s[3] !== null) events.push('split from #' + s[3] + ' of ' + name(s[0] - 1));
            if (s[4]) events.push('took in #' + s[4].join(', #') + ' of ' + name(s[0] - 1) + ' (merge)');
            return el('tr', {'data-checkpoint': name(s[0])}, el('td', {text: name(s[0])}), el('td', {text: '#' + s[1]}),
              el('td', {'class': 'num', text: s[2] === null ? '\u2014' : fmt(s[2], 3)}), el('td', {text: events.join('; ')}),
              el('td', {'class': 'explanation', text: s[5] || (R.track.explained ? 'none passes the rule' : 'not interpreted')}));
          })))));
    });
  }

  function query(q) {
    var out = {};
    (q || '').split('&').forEach(function (kv) { var p = kv.split('='); if (p[0]) out[p[0]] = parseInt(p[1], 10); });
    return out;
  }

  function renderLearned(arg, q) {
    var root = clear($('view-learned'));
    if (!available()) { unavailable(root); return; }
    withTrack(function () {
      if (R.view !== 'learned') return;
      root = clear($('view-learned'));
      var n = R.track.checkpoints.length, p = query(q), b = isNaN(p.b) ? R.track.current : p.b, a = isNaN(p.a) ? Math.max(0, b - 1) : p.a;
      if (!(a >= 0 && a < b && b < n)) { a = Math.max(0, R.track.current - 1); b = R.track.current; }
      function picker(which, value) {
        var s = el('select', {id: 'learned-' + which, 'aria-label': which === 'a' ? 'from checkpoint' : 'to checkpoint'},
          R.track.checkpoints.map(function (c, i) { return el('option', {value: i, text: c, selected: i === value ? 'selected' : null}); }));
        s.onchange = function () {
          var na = +$('learned-a').value, nb = +$('learned-b').value;
          location.hash = '#learned?a=' + na + '&b=' + nb;
        };
        return s;
      }
      append(root, [el('h1', {text: 'What the agent learned between two checkpoints'}),
        el('form', {'class': 'controls', onsubmit: function (e) { e.preventDefault(); }}, 'from ', picker('a', a), ' to ', picker('b', b))]);
      var moved = R.track.between[a + '-' + b];
      if (!moved) { append(root, el('p', {'class': 'error', text: 'Pick an earlier checkpoint first, then a later one.'})); return; }
      append(root, el('div', {'class': 'cards'},
        R.card('born', String(moved.born.length)), R.card('lost', String(moved.lost.length)),
        R.card('split', String(moved.split.length)), R.card('merged', String(moved.merged.length)),
        R.card('changed meaning', String(moved.changed.length))));
      function section(key, title, note, rows) {
        return el('div', {'class': 'panel', id: 'learned-' + key}, el('h2', {text: title + ' (' + rows.length + ')'}),
          el('p', {'class': 'muted', text: note}), rows.length ? el('div', {'class': 'chips'}, rows) : el('p', {'class': 'muted', text: 'none'}));
      }
      append(root, [
        section('born', 'Born', 'Features of ' + name(b) + ' whose line of ancestors begins after ' + name(a) + '.',
          moved.born.map(function (j) { return el('span', {'class': 'chip'}, featureRef(b, j)); })),
        section('lost', 'Lost', 'Features of ' + name(a) + ' that nothing in ' + name(b) + ' descends from.',
          moved.lost.map(function (i) { return el('span', {'class': 'chip'}, featureRef(a, i)); })),
        section('split', 'Split', 'A feature of ' + name(a) + ' \u2192 its descendants in ' + name(b) + '.',
          moved.split.map(function (s) { return el('span', {'class': 'chip'}, featureRef(a, s[0]), ' \u2192 ', refs(b, s[1])); })),
        section('merged', 'Merged', 'A feature of ' + name(b) + ' \u2190 the features of ' + name(a) + ' it took in.',
          moved.merged.map(function (m) { return el('span', {'class': 'chip'}, featureRef(b, m[0]), ' \u2190 ', refs(a, m[1])); })),
        section('changed', 'Changed meaning', R.track.explained ? 'A feature of ' + name(b) + ' whose explanation differs from its ancestor\'s in ' + name(a) + ' (\u2014: none passes the rule).' : 'No explanations in this lineage: track a sweep output whose checkpoints were interpreted.',
          moved.changed.map(function (c) { return el('span', {'class': 'chip'}, featureRef(a, c[0]), ' ' + (c[2] || '\u2014') + ' \u2192 ', featureRef(b, c[1]), ' ' + (c[3] || '\u2014')); }))]);
      append(root, el('div', {'class': 'panel', id: 'learned-steps'}, el('h2', {text: 'Step by step'}),
        el('table', null, el('thead', null, el('tr', null, ['from', 'to', 'born', 'lost', 'split', 'merged', 'traced'].map(function (h) { return el('th', {text: h}); }))),
          el('tbody', null, R.track.steps.map(function (s, i) {
            return el('tr', null, el('td', null, el('a', {href: '#learned?a=' + i + '&b=' + (i + 1), text: s.before})), el('td', {text: s.after}),
              ['born', 'lost', 'split', 'merged'].map(function (k) { return el('td', {'class': 'num', text: String(s[k])}); }),
              el('td', {'class': 'num', text: (100 * s.traced).toFixed(1) + '%'}));
          })))));
    });
  }

  // The feature page's way in (feature.js asks for it): a link to the timeline, when there is a lineage.
  R.trackLink = function (id) {
    return available() ? el('p', {'class': 'track-link'}, el('a', {href: '#timeline/' + id, text: 'Timeline across checkpoints \u2192'})) : null;
  };
  R.startTrack = function () {
    var main = document.querySelector('main');
    ['timeline', 'learned'].forEach(function (v) { append(main, el('section', {id: 'view-' + v, 'class': 'view', hidden: 'hidden'})); });
    if (available()) append(document.querySelector('header nav'), el('a', {href: '#learned', 'data-view': 'learned', text: 'Learned'}));
  };
  R.routes.timeline = renderTimeline;
  R.routes.learned = renderLearned;
})();
