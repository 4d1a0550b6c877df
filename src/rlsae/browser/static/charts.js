/* rlsae feature browser, part 1: DOM helpers, number formats and the SVG charts (no app state).
 * Exposes window.RLSAEUI; browser.js builds the pages from it.
 */
(function () {
  'use strict';
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var POS = '#1f6feb', NEG = '#d1242f';
  // ---------- small helpers ----------
  function el(tag, attrs) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function sv(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    for (var i = 2; i < arguments.length; i++) append(node, arguments[i]);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') node.textContent = v;
      else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    });
  }
  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(id) { return document.getElementById(id); }
  function isNum(x) { return typeof x === 'number' && isFinite(x); }

  function fmt(x, digits) {
    if (!isNum(x)) return x === null || x === undefined ? '\u2014' : String(x);
    if (Number.isInteger(x)) return x.toLocaleString('en-US');
    var a = Math.abs(x);
    if (a >= 1000) return Math.round(x).toLocaleString('en-US');
    if (a !== 0 && a < 1e-3) return x.toExponential(1);
    return x.toPrecision(digits || 3).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  }
  function fmtDensity(d) {
    if (!isNum(d)) return '\u2014';
    if (d === 0) return '0';
    return d < 0.01 ? d.toExponential(1) : (100 * d).toFixed(d < 0.1 ? 2 : 1) + '%';
  }
  function fmtMetric(name, x) {
    if (isNum(x) && /fraction|agreement/.test(name) && Math.abs(x) <= 1) return (100 * x).toFixed(1) + '%';
    return fmt(x, 4);
  }

  // ---------- charts ----------
  /** Bar chart of counts over [edges]; opts: width, height, xlabel, marks [{x, label}], extra bars. */
  function histogramSvg(edges, counts, opts) {
    opts = opts || {};
    // opts.dead: a count drawn as its own grey bar left of the axis (it has no value on the x scale)
    var D = isNum(opts.dead) ? 40 : 0, W = opts.width || 320, H = opts.height || 150, L = 36 + D, B = 28, T = 8, Rm = 8;
    var svg = sv('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'hist'});
    if (!counts.length && !D) { append(svg, sv('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle', text: 'no data'})); return svg; }
    if (!counts.length) { edges = [0, 1]; counts = [0]; }
    var lo = edges[0], hi = edges[edges.length - 1], span = hi - lo || 1;
    var top = Math.max.apply(null, counts.concat(D ? [opts.dead] : [])) || 1;
    var x = function (v) { return L + (W - L - Rm) * (v - lo) / span; };
    var scale = opts.logCounts ? function (c) { return Math.log10(1 + c); } : function (c) { return c; };
    var y = function (c) { return H - B - (H - B - T) * scale(c) / scale(top); };
    counts.forEach(function (c, i) {
      var x0 = x(edges[i]), x1 = x(edges[i + 1]);
      append(svg, sv('rect', {'class': 'bar', x: x0 + 0.5, y: y(c), width: Math.max(1, x1 - x0 - 1), height: H - B - y(c)},
        sv('title', {text: fmt(edges[i]) + ' to ' + fmt(edges[i + 1]) + ': ' + c})));
    });
    if (D) {
      append(svg, sv('rect', {'class': 'bar dead', x: L - D + 4, y: y(opts.dead), width: D - 12, height: H - B - y(opts.dead)},
        sv('title', {text: 'dead: ' + opts.dead})));
      append(svg, sv('text', {'class': 'dead-label', x: L - D / 2 - 2, y: H - B + 13, 'text-anchor': 'middle', text: 'dead'}));
      append(svg, sv('line', {'class': 'axis', x1: L - D + 2, x2: L - 6, y1: H - B, y2: H - B}));
    }
    append(svg, sv('line', {'class': 'axis', x1: L, x2: W - Rm, y1: H - B, y2: H - B}));
    append(svg, sv('line', {'class': 'axis', x1: L, x2: L, y1: T, y2: H - B}));
    append(svg, sv('text', {x: L, y: H - B + 13, 'text-anchor': D ? 'start' : 'middle', text: fmt(lo)}));
    append(svg, sv('text', {x: W - Rm, y: H - B + 13, 'text-anchor': 'end', text: fmt(hi)}));
    append(svg, sv('text', {x: L - D - 4, y: T + 8, 'text-anchor': 'end', text: fmt(top)}));
    append(svg, sv('text', {x: L - D - 4, y: H - B, 'text-anchor': 'end', text: '0'}));
    if (opts.xlabel) append(svg, sv('text', {x: (L + W) / 2, y: H - 3, 'text-anchor': 'middle', text: opts.xlabel}));
    return svg;
  }

  /** Activation over a clip: a line over the frames, a dot per frame, a cursor at ``current``; null = unknown. */
  function sparklineSvg(values, current, opts) {
    opts = opts || {};
    var W = opts.width || 480, H = opts.height || 56, P = 6, n = values.length;
    var svg = sv('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'sparkline', role: 'img',
                         'aria-label': 'activation over the clip'});
    var known = values.filter(isNum), top = Math.max.apply(null, known.concat([opts.max || 0])) || 1;
    var x = function (i) { return P + (W - 2 * P) * (n > 1 ? i / (n - 1) : 0.5); };
    var y = function (v) { return H - P - (H - 2 * P) * v / top; };
    append(svg, sv('line', {'class': 'axis', x1: P, x2: W - P, y1: H - P, y2: H - P}));
    var d = '';
    values.forEach(function (v, i) { if (isNum(v)) d += (d && isNum(values[i - 1]) ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1); });
    append(svg, sv('path', {'class': 'line', d: d}));
    values.forEach(function (v, i) {
      if (isNum(v)) append(svg, sv('circle', {'class': 'point', cx: x(i), cy: y(v), r: 2.2, 'data-i': i}, sv('title', {text: fmt(v, 3)})));
    });
    append(svg, sv('line', {'class': 'cursor', x1: x(current), x2: x(current), y1: 2, y2: H - 2}));
    append(svg, sv('text', {x: W - P, y: 11, 'text-anchor': 'end', text: 'max ' + fmt(top, 3)}));
    return svg;
  }

  /** Line chart of points [{x, y}]; log-free, autoscaled. */
  function lineSvg(points, title, opts) {
    opts = opts || {};
    var W = opts.width || 250, H = opts.height || 140, L = 44, B = 22, T = 18, Rm = 10;
    var svg = sv('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'curve'});
    append(svg, sv('text', {x: L, y: 12, text: title, style: 'font-weight:600;fill:#1d232b'}));
    points = points.filter(function (p) { return isNum(p.x) && isNum(p.y); });
    if (!points.length) return svg;
    var xs = points.map(function (p) { return p.x; }), ys = points.map(function (p) { return p.y; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min(0, Math.min.apply(null, ys)), y1 = Math.max.apply(null, ys);
    if (y1 === y0) y1 = y0 + 1;
    var x = function (v) { return L + (W - L - Rm) * (v - x0) / ((x1 - x0) || 1); };
    var y = function (v) { return H - B - (H - B - T) * (v - y0) / (y1 - y0); };
    var d = points.map(function (p, i) { return (i ? 'L' : 'M') + x(p.x).toFixed(1) + ' ' + y(p.y).toFixed(1); }).join('');
    append(svg, sv('line', {'class': 'axis', x1: L, x2: W - Rm, y1: H - B, y2: H - B}));
    append(svg, sv('line', {'class': 'axis', x1: L, x2: L, y1: T, y2: H - B}));
    append(svg, sv('path', {'class': 'line', d: d}));
    append(svg, sv('text', {x: L - 4, y: T + 8, 'text-anchor': 'end', text: fmt(y1)}));
    append(svg, sv('text', {x: L - 4, y: H - B, 'text-anchor': 'end', text: fmt(y0)}));
    append(svg, sv('text', {x: L, y: H - 6, text: fmt(x0)}));
    append(svg, sv('text', {x: W - Rm, y: H - 6, 'text-anchor': 'end', text: fmt(x1) + ' steps'}));
    return svg;
  }

  /** Direction (dx, dy) of a joystick action from its name, or null (NOOP, FIRE, ...). */
  function direction(name) {
    var n = String(name).toUpperCase(), dx = 0, dy = 0;
    if (n.indexOf('UP') >= 0) dy -= 1;
    if (n.indexOf('DOWN') >= 0) dy += 1;
    if (n.indexOf('LEFT') >= 0) dx -= 1;
    if (n.indexOf('RIGHT') >= 0) dx += 1;
    if (!dx && !dy) return null;
    var len = Math.sqrt(dx * dx + dy * dy);
    return [dx / len, dy / len];
  }

  /** The seed talk's picture: an arrow per joystick direction from the centre, blue = encourages,
   *  red = discourages, length proportional to |effect| / max |effect| of this feature; NOOP is a disc. */
  function arrowsSvg(effects, names) {
    var S = 270, C = S / 2, RAD = 80;
    var svg = sv('svg', {width: S, height: S, viewBox: '0 0 ' + S + ' ' + S, 'class': 'arrows',
                         role: 'img', 'aria-label': 'action effects'});
    append(svg, sv('circle', {'class': 'guide', cx: C, cy: C, r: RAD}));
    var peak = Math.max.apply(null, effects.map(function (e) { return isNum(e) ? Math.abs(e) : 0; }));
    effects.forEach(function (e, i) {
      var dir = direction(names[i]);
      if (dir) append(svg, sv('text', {x: C + dir[0] * (RAD + 8), y: C + dir[1] * (RAD + 10) + 4,
                                       'text-anchor': dir[0] > 0.1 ? 'start' : dir[0] < -0.1 ? 'end' : 'middle',
                                       text: names[i]}));
      else append(svg, sv('text', {'class': 'noop-label', x: C + 44, y: C + 22, 'text-anchor': 'middle', text: names[i]}));
      if (!isNum(e) || e === 0 || !peak) return;
      var frac = Math.abs(e) / peak, color = e > 0 ? POS : NEG;
      var tip = names[i] + ' ' + (e > 0 ? '+' : '') + fmt(e, 3) + ' per unit activation';
      if (!dir) {
        append(svg, sv('circle', {'class': 'noop ' + (e > 0 ? 'pos' : 'neg'), cx: C, cy: C, r: 3 + 22 * frac,
                                  fill: color, 'fill-opacity': 0.35, stroke: color, 'stroke-width': 2,
                                  'data-action': names[i], 'data-effect': e}, sv('title', {text: tip})));
        return;
      }
      var len = RAD * frac, tx = C + dir[0] * len, ty = C + dir[1] * len, head = Math.min(12, 4 + len * 0.3);
      var bx = tx - dir[0] * head, by = ty - dir[1] * head, px = -dir[1] * head * 0.6, py = dir[0] * head * 0.6;
      var d = 'M' + C + ' ' + C + 'L' + tx.toFixed(1) + ' ' + ty.toFixed(1) +
              'M' + (bx + px).toFixed(1) + ' ' + (by + py).toFixed(1) + 'L' + tx.toFixed(1) + ' ' + ty.toFixed(1) +
              'L' + (bx - px).toFixed(1) + ' ' + (by - py).toFixed(1);
      append(svg, sv('path', {'class': 'arrow ' + (e > 0 ? 'pos' : 'neg'), d: d, stroke: color, fill: 'none',
                              'stroke-width': 4, 'stroke-linecap': 'round', 'stroke-linejoin': 'round',
                              'data-action': names[i], 'data-effect': e}, sv('title', {text: tip})));
    });
    append(svg, sv('circle', {cx: C, cy: C, r: 2.5, fill: '#1d232b'}));
    return svg;
  }

  /** Grouped bars: two action distributions (clean vs steered). */
  function distributionSvg(a, b, names) {
    var W = 360, H = 150, L = 30, B = 34, T = 8, n = names.length, slot = (W - L - 6) / n;
    var top = Math.max.apply(null, a.concat(b)) || 1;
    var svg = sv('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H});
    [a, b].forEach(function (dist, k) {
      dist.forEach(function (p, i) {
        var h = (H - B - T) * p / top;
        append(svg, sv('rect', {x: L + i * slot + 2 + k * (slot - 4) / 2, y: H - B - h, width: (slot - 4) / 2 - 1,
                                height: h, fill: k ? '#e8590c' : '#7f95e8'}, sv('title', {text: names[i] + ': ' + fmt(p)})));
      });
    });
    names.forEach(function (nm, i) {
      append(svg, sv('text', {x: L + (i + 0.5) * slot, y: H - B + 12, 'text-anchor': 'middle',
                              style: 'font-size:9px', text: nm.length > 6 ? nm.replace('DOWN', 'D').replace('UP', 'U') : nm}));
    });
    append(svg, sv('line', {'class': 'axis', x1: L, x2: W, y1: H - B, y2: H - B}));
    append(svg, sv('text', {x: L, y: H - 4, text: '\u25A0 clean', style: 'fill:#7f95e8'}));
    append(svg, sv('text', {x: L + 60, y: H - 4, text: '\u25A0 steered', style: 'fill:#e8590c'}));
    return svg;
  }

  window.RLSAEUI = {el: el, sv: sv, append: append, clear: clear, $: $, isNum: isNum, fmt: fmt,
                    fmtDensity: fmtDensity, fmtMetric: fmtMetric, histogramSvg: histogramSvg, lineSvg: lineSvg, sparklineSvg: sparklineSvg,
                    arrowsSvg: arrowsSvg, distributionSvg: distributionSvg, POS: POS, NEG: NEG};
})();
