/* rlsae feature browser: frame tiles (a tile of a sprite sheet with the player and the region marked) and
 * the clip viewer an example opens.
 */
(function () {
  'use strict';
  var U = window.RLSAEUI, el = U.el, sv = U.sv, append = U.append, clear = U.clear, $ = U.$,
      isNum = U.isNum, fmt = U.fmt, sparklineSvg = U.sparklineSvg;
  var R = window.RLSAE;

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

  R.frameBox = frameBox; R.marksLegend = marksLegend; R.closeZoom = closeZoom; R.openClip = openClip;
})();
