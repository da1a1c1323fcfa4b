/*
 * billkey example: what the shop's page (app.js) and the staff's page (admin.js) share.
 * Plain JavaScript, no build step: it defines window.billkeyDemo.
 *
 *   request(method, url, opts)  fetch with JSON in and out -> {status, ok, data}; an
 *                               error's data is a problem object with a code
 *   newIdempotencyKey()         a fresh key per click
 *   readJSON(id, fallback)      the JSON of a <script type="application/json" id=...>
 *   show(code, detail, kind)    an outcome in words in #message[data-kind][data-code]
 *   won(n), when(t), day(t)     an amount, a time, a date (in Korea's time, where billing
 *                               periods are counted)
 *   named(words, key)           "KO · EN" of words[key] (a status table), or key
 *   cell(tag, text, class), badge(text, status)
 */
(function () {
  'use strict';

  const timeZone = 'Asia/Seoul';

  function readJSON(id, fallback) {
    const node = document.getElementById(id);
    if (!node) {
      return fallback;
    }
    try {
      const v = JSON.parse(node.textContent);
      return v === null || v === undefined ? fallback : v;
    } catch (e) {
      return fallback;
    }
  }

  const messages = readJSON('demo-messages', {});

  // request calls url and returns {status, ok, data}; data is the JSON body (a
  // problem+json object on errors). A network failure is status 0 with code "network".
  async function request(method, url, opts) {
    opts = opts || {};
    const headers = { 'Accept': 'application/json, application/problem+json' };
    let bodyText;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      bodyText = JSON.stringify(opts.json);
    }
    Object.assign(headers, opts.headers || {});
    let res;
    try {
      res = await fetch(url, {
        method: method,
        headers: headers,
        body: bodyText,
        credentials: 'same-origin',
        cache: 'no-store'
      });
    } catch (e) {
      return { status: 0, ok: false, data: { code: 'network' } };
    }
    let data = null;
    const type = res.headers.get('Content-Type') || '';
    if (/json/i.test(type)) {
      try {
        data = await res.json();
      } catch (e) {
        data = null;
      }
    }
    if (!res.ok && (!data || typeof data.code !== 'string')) {
      data = { code: res.status >= 500 ? 'internal' : 'invalid_request' };
    }
    return { status: res.status, ok: res.ok, data: data };
  }

  // newIdempotencyKey makes a fresh key per click: a retry of the same click (not done
  // here) would reuse it, a new click never does.
  function newIdempotencyKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    const b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function words(code) {
    return messages[code] || messages.internal || { ko: '오류가 발생했습니다.', en: 'Something went wrong.', kind: 'error' };
  }

  // show puts an outcome in #message. detail, when given, is a line from the payment
  // window or the card company, or the facts of the outcome (text only); never a
  // problem's developer detail.
  function show(code, detail, kindOverride) {
    const m = words(code);
    const box = document.getElementById('message');
    box.textContent = '';
    const ko = document.createElement('p');
    ko.lang = 'ko';
    ko.textContent = m.ko;
    const en = document.createElement('p');
    en.lang = 'en';
    en.textContent = m.en;
    box.appendChild(ko);
    box.appendChild(en);
    if (detail) {
      const d = document.createElement('p');
      d.className = 'detail';
      d.textContent = detail;
      box.appendChild(d);
    }
    box.setAttribute('data-kind', kindOverride || m.kind || 'info');
    box.setAttribute('data-code', code);
    box.hidden = false;
  }

  function won(n) {
    return Number(n).toLocaleString('ko-KR') + '원';
  }

  function toDate(s) {
    const d = s instanceof Date ? s : new Date(s);
    return isNaN(d.getTime()) ? null : d;
  }

  function when(s) {
    const d = toDate(s);
    return d ? d.toLocaleString('ko-KR', { dateStyle: 'medium', timeStyle: 'short', timeZone: timeZone }) : '';
  }

  function day(s) {
    const d = toDate(s);
    return d ? d.toLocaleDateString('ko-KR', { dateStyle: 'medium', timeZone: timeZone }) : '';
  }

  function cell(tag, text, className) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    node.textContent = text;
    return node;
  }

  function badge(text, status) {
    const b = cell('span', text, 'status');
    b.setAttribute('data-status', status);
    return b;
  }

  function named(table, key) {
    const w = table[key];
    return w ? w.ko + ' · ' + w.en : key;
  }

  window.billkeyDemo = {
    request: request,
    newIdempotencyKey: newIdempotencyKey,
    readJSON: readJSON,
    show: show,
    won: won,
    toDate: toDate,
    when: when,
    day: day,
    cell: cell,
    badge: badge,
    named: named
  };
})();
