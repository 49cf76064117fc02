// evalpack report viewer: decodes the embedded samples on demand and renders them.
// No network, no libraries: every text goes through textContent, never innerHTML.
(function () {
  'use strict';
  var PAGE = 50;
  var STATUSES = ['all', 'correct', 'wrong', 'partial', 'unparsed', 'error', 'judge_error'];
  var SHOWN_WHEN_ZERO = {judge_error: false};  // only judged benchmarks have judge errors
  var cache = {};
  var state = {ds: null, sub: '', st: 'all', q: '', p: 1, s: null, dir: 'all', grp: '', gv: ''};

  function h(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (attrs[k] === undefined || attrs[k] === null) continue;
        if (k === 'text') node.textContent = attrs[k];
        else if (k === 'onclick' || k === 'oninput' || k === 'onchange') node[k] = attrs[k];
        else node.setAttribute(k, attrs[k]);
      }
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      if (Array.isArray(c)) c.forEach(function (x) { if (x) node.appendChild(typeof x === 'string' ? document.createTextNode(x) : x); });
      else node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }
  function str(v) {
    if (v === undefined || v === null) return '';
    return typeof v === 'string' ? v : JSON.stringify(v, null, 1);
  }
  function short(v, n) { var s = str(v).replace(/\s+/g, ' ').trim(); return s.length > n ? s.slice(0, n - 1) + '…' : s; }
  function pre(v, cls) { return h('pre', {'class': cls}, str(v)); }
  function fold(title, body, open, cls) {
    var d = h('details', {open: open ? '' : null, 'class': cls}, h('summary', {text: title}));
    d.appendChild(body);
    return d;
  }
  function label(t) { return h('div', {'class': 'label', text: t}); }

  function blobNames() {
    return Array.prototype.map.call(document.querySelectorAll('script[type="application/octet-stream"]'),
      function (n) { return n.getAttribute('data-name'); });
  }
  function load(name) {
    if (cache[name]) return cache[name];
    var node = null;
    document.querySelectorAll('script[type="application/octet-stream"]').forEach(function (n) {
      if (n.getAttribute('data-name') === name) node = n;
    });
    if (!node) return Promise.reject(new Error('no embedded data for ' + name));
    var bin = atob(node.textContent.trim());
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    cache[name] = new Response(stream).text().then(JSON.parse);
    return cache[name];
  }
  function haystack(s, data) {  // built on the first search only: opening the page stays fast
    if (s._hay === undefined) {
      var aff = (data.affixes || {})[s.sub];
      s._hay = [s.id, aff ? aff[0] : '', s.q, aff ? aff[1] : '', s.reply, s.reasoning, str(s.conv), str(s.ext)]
        .join('\n').toLowerCase();
    }
    return s._hay;
  }

  // --- one sample ---
  function messages(list, numbered) {
    var box = h('div');
    (list || []).forEach(function (m, i) {
      if (!m || typeof m !== 'object') { box.appendChild(pre(m)); return; }
      var role = String(m.role || '?');
      var head = (numbered ? 'step ' + (i + 1) + ' · ' : '') + role + (m.name ? ' · ' + m.name : '');
      var div = h('div', {'class': 'msg ' + role}, h('div', {'class': 'role', text: head}));
      if (m.reasoning) div.appendChild(fold('reasoning (' + str(m.reasoning).length + ' chars)', pre(m.reasoning, 'reasoning'), false, 'reasoning'));
      var content = m.content;
      if (Array.isArray(content)) content = content.map(function (p) { return p && p.text !== undefined ? p.text : str(p); }).join('\n');
      if (content !== undefined && content !== null && content !== '') {
        var text = str(content);
        div.appendChild(role === 'system' && text.length > 400 ? fold('system prompt · ' + text.length + ' chars', pre(text)) : pre(text));
      }
      (m.tool_calls || []).forEach(function (tc) {
        var fn = (tc && tc.function) || tc || {};
        div.appendChild(pre('call ' + (fn.name || '?') + '(' + str(fn.arguments) + ')'));
      });
      box.appendChild(div);
    });
    return box;
  }

  function actionTable(expected, taken) {
    var t = h('table', null, h('tr', null, h('th', {text: '#'}), h('th', {text: 'expected action'}), h('th', {text: 'taken action'})));
    var n = Math.max(expected.length, taken.length);
    for (var i = 0; i < n; i++) {
      var e = expected[i], a = taken[i];
      var same = e && a && e.name === a.name && JSON.stringify(e.kwargs || e.arguments) === JSON.stringify(a.kwargs || a.arguments);
      t.appendChild(h('tr', {'class': same ? 'ok' : 'bad'}, h('td', {text: String(i + 1)}),
        h('td', null, e ? pre((e.name || '?') + ' ' + str(e.kwargs || e.arguments)) : '-'),
        h('td', null, a ? pre((a.name || '?') + ' ' + str(a.kwargs || a.arguments)) : '-')));
    }
    return t;
  }

  function renderSample(s, data) {
    var box = h('div', {'class': 'sample', 'data-id': s.id, 'data-status': s.st, 'data-score': s.sc === undefined ? '' : String(s.sc)});
    box.appendChild(h('h3', null, s.id + (s.rep ? ' #' + s.rep : '') + ' · ', h('span', {'class': 'st-' + s.st, text: s.st}),
      s.sc !== undefined ? ' · score ' + s.sc : '', s.sub ? ' · ' + s.sub : ''));
    if (s.err) { box.appendChild(label('error')); box.appendChild(pre(s.err, 'bad')); }
    var aff = (data && data.affixes || {})[s.sub];
    if (s.q !== undefined) {
      box.appendChild(label('question'));
      box.appendChild(pre(s.q));
      if (aff && aff[0]) box.appendChild(fold('prompt start shared by this subset (instructions, few-shot examples) · ' + aff[0].length + ' chars', pre(aff[0])));
      if (aff && aff[1]) box.appendChild(fold('prompt end shared by this subset · ' + aff[1].length + ' chars', pre(aff[1])));
    }
    if (s.pre_msgs) box.appendChild(fold('earlier messages of the prompt (' + s.pre_msgs.length + ': system, few-shot turns)', messages(s.pre_msgs)));
    if (s.post_msgs) box.appendChild(fold('messages after the question (' + s.post_msgs.length + ')', messages(s.post_msgs)));
    if (s.tools || (s.meta && s.meta.functions)) {
      var tools = s.tools || s.meta.functions;
      var names = tools.map(function (t) { return (t.function || t).name || '?'; }).join(', ');
      box.appendChild(fold('offered tools (' + tools.length + '): ' + names, pre(tools)));
    }
    // the model's reasoning (reasoning_content and inline <think> blocks): folded, apart from the answer
    if (s.reasoning) box.appendChild(fold('reasoning (' + str(s.reasoning).length + ' chars)', pre(s.reasoning, 'reasoning'), false, 'reasoning'));
    if (s.noans) {
      box.appendChild(label('reply'));
      box.appendChild(pre('(no answer: the reply ended inside its reasoning)', 'answer bad'));
    }
    if (s.reply !== undefined || s.reply_calls) {
      if (!s.noans) box.appendChild(label('reply'));
      if (s.reply !== undefined) box.appendChild(pre(s.reply, 'answer'));
      (s.reply_calls || []).forEach(function (tc) {
        var fn = (tc && tc.function) || tc || {};
        box.appendChild(pre('call ' + (fn.name || '?') + '(' + str(fn.arguments) + ')'));
      });
    }
    box.appendChild(h('div', {'class': 'side'},
      h('div', null, label('extracted'), pre(s.ext === undefined ? '(nothing)' : s.ext, 'extracted')),
      h('div', null, label('gold'), pre(s.gold, 'gold'))));
    var out = s.out || {};
    if (s.gold && s.gold.actions && out.actions) {
      box.appendChild(label('expected vs. taken actions'));
      box.appendChild(actionTable(s.gold.actions || [], (out.actions || []).filter(function (a) { return a.name !== 'respond'; })));
    }
    if (out.final_hash !== undefined || out.gold_hash !== undefined) {
      var same = out.final_hash === out.gold_hash;
      box.appendChild(h('p', {'class': same ? 'ok' : 'bad', text: 'database after the episode ' +
        (same ? 'matches' : 'differs from') + ' the expected one (hash ' + short(out.final_hash, 16) + ' vs ' + short(out.gold_hash, 16) + ')'}));
    }
    if (out.patch) box.appendChild(fold('patch', pre(out.patch), true));
    if (s.conv) box.appendChild(fold('transcript (' + s.conv.length + ' messages, step-numbered)', messages(s.conv, true), true));
    if (s.det) {
      var d = s.det;
      if (d.stderr_tail) box.appendChild(fold('program output (stderr tail)', pre(d.stderr_tail), true));
      if (d.patch_files && !out.patch && s.ext) box.appendChild(fold('patch', pre(s.ext), true));
      if (d.report && (d.report.FAIL_TO_PASS || d.report.PASS_TO_PASS)) {
        var tests = h('table', {'class': 'tests'}, h('tr', null, h('th', {text: 'test'}), h('th', {text: 'kind'}), h('th', {text: 'result'})));
        ['FAIL_TO_PASS', 'PASS_TO_PASS'].forEach(function (kind) {
          var r = d.report[kind] || {};
          (r.success || []).forEach(function (t) { tests.appendChild(h('tr', {'class': 'ok'}, h('td', {text: t}), h('td', {text: kind}), h('td', {text: 'passed'}))); });
          (r.failure || []).forEach(function (t) { tests.appendChild(h('tr', {'class': 'bad'}, h('td', {text: t}), h('td', {text: kind}), h('td', {text: 'failed'}))); });
        });
        box.appendChild(fold('per-test results', tests, true));
      }
      if (d.log_tail) box.appendChild(fold('test log (tail)', pre(d.log_tail)));
      box.appendChild(fold('scorer detail', pre(d), true));
    }
    var rest = {};
    Object.keys(out).forEach(function (k) { if (k !== 'patch' && k !== 'actions') rest[k] = out[k]; });
    if (Object.keys(rest).length) box.appendChild(fold('other output', pre(rest)));
    if (s.meta) box.appendChild(fold('sample metadata', pre(s.meta)));
    var facts = [];
    if (s.lat !== undefined) facts.push('latency ' + Number(s.lat).toFixed(3) + ' s');
    if (s.calls) facts.push(s.calls + ' model call' + (s.calls > 1 ? 's' : ''));
    if (s.usage) facts.push('usage ' + JSON.stringify(s.usage));
    if (s.timing) facts.push('timing ' + JSON.stringify(s.timing));
    if (facts.length) box.appendChild(h('p', {'class': 'sub', text: facts.join(' · ')}));
    return box;
  }

  // --- the browser ---
  function parseHash() {
    var hash = location.hash || '';
    var i = hash.indexOf('?');
    var params = new URLSearchParams(i >= 0 ? hash.slice(i + 1) : '');
    return {view: (i >= 0 ? hash.slice(1, i) : hash.slice(1)), params: params};
  }
  function setHash() {
    var p = new URLSearchParams();
    ['ds', 'sub', 'grp', 'gv', 'st', 'q', 'p', 's', 'dir'].forEach(function (k) {
      var v = state[k];
      if (v !== null && v !== '' && !(k === 'st' && v === 'all') && !(k === 'dir' && v === 'all') && !(k === 'p' && v === 1)) p.set(k, v);
    });
    var target = '#samples?' + p.toString();
    if (location.hash !== target) history.replaceState(null, '', target);
  }

  function filtered(data) {
    var q = state.q.toLowerCase();
    return data.samples.filter(function (s) {
      return (!state.sub || s.sub === state.sub) && (state.st === 'all' || s.st === state.st) &&
        (!state.grp || String((s.meta || {})[state.grp]) === state.gv) &&
        (!q || haystack(s, data).indexOf(q) >= 0);
    });
  }

  function renderBrowser() {
    var root = document.getElementById('browser');
    if (!root) return;
    var names = blobNames();
    if (!names.length) { root.textContent = 'no samples stored'; return; }
    if (!state.ds || names.indexOf(state.ds) < 0) state.ds = names[0];
    root.textContent = 'decoding ' + state.ds + ' samples…';
    load(state.ds).then(function (data) { draw(root, names, data); }, function (e) {
      root.textContent = 'cannot decode the embedded samples: ' + e;
    });
  }

  function draw(root, names, data) {
    root.textContent = '';
    var subsets = [];
    var counts = {all: 0};
    data.samples.forEach(function (s) {
      if (subsets.indexOf(s.sub) < 0) subsets.push(s.sub);
      if ((!state.sub || s.sub === state.sub) && (!state.grp || String((s.meta || {})[state.grp]) === state.gv)) {
        counts.all++; counts[s.st] = (counts[s.st] || 0) + 1;
      }
    });
    subsets.sort();
    var dsSel = h('select', {id: 'f-dataset', onchange: function () { state.ds = this.value; state.sub = ''; state.grp = ''; state.p = 1; state.s = null; update(); }},
      names.map(function (n) { var o = h('option', {value: n, text: n}); if (n === state.ds) o.selected = true; return o; }));
    var subSel = h('select', {id: 'f-subset', onchange: function () { state.sub = this.value; state.p = 1; update(); }},
      [h('option', {value: '', text: 'all subsets (' + subsets.length + ')'})].concat(subsets.map(function (n) {
        var o = h('option', {value: n, text: n}); if (n === state.sub) o.selected = true; return o;
      })));
    var buttons = STATUSES.filter(function (st) {
      return SHOWN_WHEN_ZERO[st] !== false || counts[st] || st === state.st;
    }).map(function (st) {
      return h('button', {'class': st === state.st ? 'on' : '', 'data-status': st, id: 'f-st-' + st,
        onclick: function () { state.st = st; state.p = 1; update(); }, text: st + ' ' + (counts[st] || 0)});
    });
    var search = h('input', {type: 'search', id: 'f-search', placeholder: 'search prompt and reply', value: state.q});
    var timer = null;
    search.oninput = function () {
      var v = this.value;
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = v; state.p = 1; update(true); }, 200);
    };
    var groupTag = state.grp ? h('button', {id: 'f-group', title: 'clear', onclick: function () { state.grp = ''; state.gv = ''; state.p = 1; update(); },
      text: state.grp + ': ' + state.gv + ' ✕'}) : null;
    root.appendChild(h('div', {'class': 'controls'}, dsSel, subSel, groupTag, buttons, search));
    var rows = filtered(data);
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (state.p > pages) state.p = pages;
    var start = (state.p - 1) * PAGE;
    var pager = h('div', {'class': 'pager'},
      h('button', {id: 'prev', onclick: function () { if (state.p > 1) { state.p--; update(); } }, text: '‹ prev'}), ' ',
      h('span', {id: 'match-count', 'data-matches': String(rows.length), 'data-query': state.q, 'data-status': state.st, 'data-group': state.grp ? state.grp + ':' + state.gv : '',
        'data-subset': state.sub, text: rows.length + ' of ' + data.samples.length +
        ' samples · page ' + state.p + ' of ' + pages}), ' ',
      h('button', {id: 'next', onclick: function () { if (state.p < pages) { state.p++; update(); } }, text: 'next ›'}));
    root.appendChild(pager);
    var table = h('table', {'class': 'list'}, h('tr', null, ['id', 'subset', 'status', 'score', 'gold', 'extracted', 'reply']
      .map(function (t) { return h('th', {text: t}); })));
    rows.slice(start, start + PAGE).forEach(function (s) {
      var key = s.id + ':' + (s.rep || 0);
      var tr = h('tr', {'class': 'sample-row' + (state.s === key ? ' sel' : ''), 'data-id': s.id, 'data-status': s.st,
        onclick: function () { state.s = key; update(); }},
        h('td', {text: s.id + (s.rep ? ' #' + s.rep : '')}), h('td', {text: s.sub || ''}),
        h('td', {'class': 'st-' + s.st, text: s.st}), h('td', {text: s.sc === undefined ? '-' : String(s.sc)}),
        h('td', {text: short(s.gold, 30)}), h('td', {text: short(s.ext, 30)}), h('td', {text: short(s.noans ? '(no answer: ended inside its reasoning)' : s.reply || s.err, 80)}));
      table.appendChild(tr);
    });
    root.appendChild(table);
    var detail = h('div', {id: 'detail'});
    root.appendChild(detail);
    if (state.s) {
      var found = data.samples.filter(function (s) { return s.id + ':' + (s.rep || 0) === state.s; })[0];
      if (found) detail.appendChild(renderSample(found, data));
    }
  }

  var focusSearch = false;
  function update(keepFocus) {
    setHash();
    focusSearch = !!keepFocus;
    renderBrowser();
    if (focusSearch) Promise.resolve(cache[state.ds]).then(function () {
      var s = document.getElementById('f-search');
      if (s) { s.focus(); s.setSelectionRange(s.value.length, s.value.length); }
    });
  }

  function fromHash() {
    var parsed = parseHash();
    if (parsed.view !== 'samples') return false;
    var p = parsed.params;
    state.ds = p.get('ds') || state.ds;
    state.sub = p.get('sub') || '';
    state.grp = p.get('grp') || '';
    state.gv = p.get('gv') || '';
    state.st = p.get('st') || 'all';
    state.q = p.get('q') || '';
    state.p = parseInt(p.get('p') || '1', 10) || 1;
    state.s = p.get('s');
    state.dir = p.get('dir') || 'all';
    return true;
  }

  // --- compare: flipped samples side by side ---
  function renderFlips() {
    var root = document.getElementById('flips');
    if (!root) return;
    var names = blobNames();
    if (!names.length) { root.textContent = 'no flipped samples'; return; }
    if (!state.ds || names.indexOf(state.ds) < 0) state.ds = names[0];
    load(state.ds).then(function (data) {
      root.textContent = '';
      var dsSel = h('select', {id: 'f-dataset', onchange: function () { state.ds = this.value; state.s = null; state.p = 1; setHash(); renderFlips(); }},
        names.map(function (n) { var o = h('option', {value: n, text: n}); if (n === state.ds) o.selected = true; return o; }));
      var dirs = ['all', 'gained', 'lost'];
      var buttons = dirs.map(function (d) {
        var n = d === 'all' ? data.pairs.length : data.pairs.filter(function (x) { return x.dir === d; }).length;
        return h('button', {'class': d === state.dir ? 'on' : '', id: 'f-dir-' + d, onclick: function () { state.dir = d; state.p = 1; setHash(); renderFlips(); },
          text: (d === 'gained' ? 'wrong → right' : d === 'lost' ? 'right → wrong' : 'all') + ' ' + n});
      });
      root.appendChild(h('div', {'class': 'controls'}, dsSel, buttons, h('span', {text: data.runs[0] + ' → ' + data.runs[1]})));
      var rows = data.pairs.filter(function (x) { return state.dir === 'all' || x.dir === state.dir; });
      var pages = Math.max(1, Math.ceil(rows.length / PAGE));
      if (state.p > pages) state.p = pages;
      root.appendChild(h('div', {'class': 'pager'},
        h('button', {id: 'prev', onclick: function () { if (state.p > 1) { state.p--; setHash(); renderFlips(); } }, text: '‹ prev'}), ' ',
        h('span', {id: 'match-count', 'data-matches': String(rows.length), text: rows.length + ' flipped · page ' + state.p + ' of ' + pages}), ' ',
        h('button', {id: 'next', onclick: function () { if (state.p < pages) { state.p++; setHash(); renderFlips(); } }, text: 'next ›'})));
      var table = h('table', {'class': 'list'}, h('tr', null, ['id', 'direction', data.runs[0], data.runs[1]].map(function (t) { return h('th', {text: t}); })));
      rows.slice((state.p - 1) * PAGE, state.p * PAGE).forEach(function (x) {
        table.appendChild(h('tr', {'class': 'sample-row' + (state.s === x.id ? ' sel' : ''), 'data-id': x.id, 'data-dir': x.dir,
          onclick: function () { state.s = x.id; setHash(); renderFlips(); }},
          h('td', {text: x.id}), h('td', {text: x.dir}), h('td', {text: short(x.a.ext, 40) + ' (' + x.a.st + ')'}),
          h('td', {text: short(x.b.ext, 40) + ' (' + x.b.st + ')'})));
      });
      root.appendChild(table);
      var sel = data.pairs.filter(function (x) { return x.id === state.s; })[0];
      if (sel) {
        root.appendChild(h('div', {'class': 'pair', id: 'detail'},
          h('div', null, h('div', {'class': 'label', text: data.runs[0]}), renderSample(sel.a, data.a || data)),
          h('div', null, h('div', {'class': 'label', text: data.runs[1]}), renderSample(sel.b, data.b || data))));
      }
    }, function (e) { root.textContent = 'cannot decode the embedded samples: ' + e; });
  }

  function route() {
    var mode = document.body.getAttribute('data-mode');
    var isSamples = fromHash();
    if (mode === 'compare') { renderFlips(); return; }
    if (isSamples || !document.getElementById('browser').dataset.drawn) {
      document.getElementById('browser').dataset.drawn = '1';
      renderBrowser();
    }
    if (isSamples) {
      var sec = document.getElementById('samples');
      if (sec && sec.scrollIntoView) sec.scrollIntoView();
    }
  }
  window.addEventListener('hashchange', route);
  route();
})();
