/*
 * billkey example: the subscribe page's script. Plain JavaScript, no framework, no build
 * step. It talks only to the billkey routes under <body data-prefix> (e.g. /billing).
 *
 * Stable element ids (the browser test in examples/e2e relies on them):
 *
 *   login page     #login-alice, #login-bob          sign in as a demo user
 *   every page     #logout                           sign out
 *                  #sandbox-banner | #live-banner    which iamport is in use
 *   subscribe page #card-status[data-state]          loading | none | registered | error
 *                  #card-masked                      the masked card number, once registered
 *                  #register-card, #remove-card      register (or replace) / remove the card
 *                  #plan-{id}-subscribe              subscribe to a plan (#plan-basic-subscribe,
 *                                                    #plan-pro-subscribe)
 *                  #message[data-kind][data-code]    the last outcome in words; kind is ok, info
 *                                                    or error, code a billkey problem code or
 *                                                    issued / paid / removed / window_open / ...
 *                  #charges tbody tr[data-status][data-merchant-uid]
 *                                                    the charge history, newest first
 *   result page    #result[data-code], #back         where the mobile redirect lands
 *
 * Flow of "Register card": GET {prefix}/billing-key/request -> load the IMP script it names
 * (sdk_url: the real SDK, or in the sandbox the fake's shim on this server) ->
 * IMP.init(imp_code) -> IMP.request_pay(params, callback). On a PC the callback posts the
 * result to {prefix}/billing-key/complete; on a phone the window comes back through
 * m_redirect_url and billkey's redirect handler sends the browser to /result.
 */
(function () {
  'use strict';

  const body = document.body;
  const prefix = body.getAttribute('data-prefix') || '/billing';
  const messages = readJSON('demo-messages');
  const statuses = readJSON('demo-statuses');

  const el = {
    message: document.getElementById('message'),
    cardStatus: document.getElementById('card-status'),
    register: document.getElementById('register-card'),
    remove: document.getElementById('remove-card'),
    chargesBody: document.querySelector('#charges tbody'),
    chargesEmpty: document.getElementById('charges-empty'),
    subscribe: Array.prototype.slice.call(document.querySelectorAll('button.subscribe'))
  };

  let busy = false;
  let hasCard = false;

  function readJSON(id) {
    const node = document.getElementById(id);
    if (!node) {
      return {};
    }
    try {
      return JSON.parse(node.textContent) || {};
    } catch (e) {
      return {};
    }
  }

  // ---------------------------------------------------------------------------------
  // Talking to billkey.

  // api calls a billkey route and returns {status, ok, data}; data is the JSON body (a
  // problem+json object on errors). A network failure is status 0 with code "network".
  async function api(method, path, opts) {
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
      res = await fetch(prefix + path, {
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

  // ---------------------------------------------------------------------------------
  // Showing things.

  function words(code) {
    return messages[code] || messages.internal || { ko: '오류가 발생했습니다.', en: 'Something went wrong.', kind: 'error' };
  }

  // show puts an outcome in #message. detail, when given, is a line from the payment
  // window or the card company (text only).
  function show(code, detail, kindOverride) {
    const m = words(code);
    const box = el.message;
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

  function when(s) {
    const d = new Date(s);
    if (isNaN(d.getTime())) {
      return '';
    }
    return d.toLocaleString('ko-KR', { dateStyle: 'medium', timeStyle: 'short' });
  }

  function setBusy(b) {
    busy = b;
    el.register.disabled = b;
    el.remove.disabled = b;
    el.subscribe.forEach(function (btn) { btn.disabled = b; });
  }

  function setCard(state, info) {
    const p = el.cardStatus;
    p.setAttribute('data-state', state);
    p.textContent = '';
    hasCard = state === 'registered';
    if (state === 'registered') {
      const name = document.createElement('span');
      name.textContent = (info.card_name || '카드 · Card') + ' ';
      const num = document.createElement('span');
      num.id = 'card-masked';
      num.className = 'masked';
      num.textContent = info.card_number || '';
      p.appendChild(name);
      p.appendChild(num);
      el.register.textContent = '카드 변경 · Replace card';
      el.remove.hidden = false;
    } else {
      const ko = document.createElement('span');
      const en = document.createElement('span');
      ko.lang = 'ko';
      en.lang = 'en';
      if (state === 'none') {
        ko.textContent = '등록된 카드가 없습니다.';
        en.textContent = 'No card registered.';
      } else {
        ko.textContent = '카드 정보를 불러오지 못했습니다.';
        en.textContent = 'Could not load your card.';
      }
      p.appendChild(ko);
      p.appendChild(document.createTextNode(' '));
      p.appendChild(en);
      el.register.textContent = '카드 등록 · Register card';
      el.remove.hidden = true;
    }
  }

  async function loadCard() {
    const r = await api('GET', '/billing-key');
    if (r.ok && r.data) {
      setCard('registered', r.data);
    } else if (r.status === 404 || (r.data && r.data.code === 'billing_key_missing')) {
      setCard('none');
    } else {
      setCard('error');
      if (r.data && r.data.code === 'unauthenticated') {
        show('unauthenticated');
      }
    }
  }

  function statusWords(s) {
    const w = statuses[s];
    return w ? w.ko + ' · ' + w.en : s;
  }

  async function loadCharges() {
    const r = await api('GET', '/charges');
    if (!r.ok || !r.data || !Array.isArray(r.data.charges)) {
      return;
    }
    const tbody = el.chargesBody;
    tbody.textContent = '';
    r.data.charges.forEach(function (c) {
      const tr = document.createElement('tr');
      tr.setAttribute('data-status', c.status);
      tr.setAttribute('data-merchant-uid', c.merchant_uid);
      const tdWhen = document.createElement('td');
      tdWhen.textContent = when(c.paid_at || c.created_at);
      const tdWhat = document.createElement('td');
      tdWhat.textContent = c.name;
      const tdAmount = document.createElement('td');
      tdAmount.className = 'num';
      tdAmount.textContent = won(c.amount);
      const tdStatus = document.createElement('td');
      const badge = document.createElement('span');
      badge.className = 'status';
      badge.textContent = statusWords(c.status);
      tdStatus.appendChild(badge);
      if (c.status === 'failed' && c.fail_reason) {
        const why = document.createElement('span');
        why.className = 'reason';
        why.textContent = c.fail_reason;
        tdStatus.appendChild(why);
      }
      tr.appendChild(tdWhen);
      tr.appendChild(tdWhat);
      tr.appendChild(tdAmount);
      tr.appendChild(tdStatus);
      tbody.appendChild(tr);
    });
    el.chargesEmpty.hidden = r.data.charges.length > 0;
  }

  function refresh() {
    return Promise.all([loadCard(), loadCharges()]);
  }

  // ---------------------------------------------------------------------------------
  // Register a card.

  const loadedScripts = {};

  function loadScript(src) {
    if (!loadedScripts[src]) {
      loadedScripts[src] = new Promise(function (resolve, reject) {
        const s = document.createElement('script');
        s.src = src;
        s.async = true;
        s.onload = function () { resolve(); };
        s.onerror = function () {
          delete loadedScripts[src];
          if (s.parentNode) {
            s.parentNode.removeChild(s);
          }
          reject(new Error('script failed to load'));
        };
        document.head.appendChild(s);
      });
    }
    return loadedScripts[src];
  }

  async function registerCard() {
    if (busy) {
      return;
    }
    setBusy(true);
    const r = await api('GET', '/billing-key/request');
    if (!r.ok || !r.data || !r.data.params) {
      show((r.data && r.data.code) || 'internal');
      setBusy(false);
      return;
    }
    const req = r.data;
    try {
      await loadScript(req.sdk_url);
    } catch (e) {
      show('sdk_unavailable');
      setBusy(false);
      return;
    }
    if (!window.IMP || typeof window.IMP.request_pay !== 'function') {
      show('sdk_unavailable');
      setBusy(false);
      return;
    }
    show('window_open');
    try {
      window.IMP.init(req.imp_code);
      // On a phone the page navigates to the window and comes back by m_redirect_url;
      // the callback is not called then.
      window.IMP.request_pay(req.params, function (rsp) {
        complete(req, rsp || {});
      });
    } catch (e) {
      show('sdk_unavailable');
      setBusy(false);
    }
  }

  async function complete(req, rsp) {
    const payload = {
      imp_uid: rsp.imp_uid || null,
      merchant_uid: rsp.merchant_uid || req.params.merchant_uid,
      error_code: rsp.error_code || null,
      error_msg: rsp.error_msg || null
    };
    if (typeof rsp.success === 'boolean') {
      payload.success = rsp.success; // a hint only: billkey asks iamport itself
    }
    const r = await api('POST', '/billing-key/complete', { json: payload });
    if (r.status === 200) {
      show('issued');
    } else if (r.status === 202) {
      show('issuance_pending');
    } else {
      // The window's own message (e.g. the card company's reason) helps the customer.
      show((r.data && r.data.code) || 'internal', rsp.error_msg ? String(rsp.error_msg) : '');
    }
    await refresh();
    setBusy(false);
  }

  // ---------------------------------------------------------------------------------
  // Subscribe (charge the registered card) and remove the card.

  async function subscribe(plan) {
    if (busy) {
      return;
    }
    if (!hasCard) {
      show('billing_key_missing');
      return;
    }
    setBusy(true);
    const r = await api('POST', '/charges', {
      json: { plan: plan },
      headers: { 'Idempotency-Key': newIdempotencyKey() }
    });
    if (r.status === 201 && r.data) {
      show('paid', r.data.name + ' · ' + won(r.data.amount));
    } else if (r.status === 202 && r.data) {
      show('charge_in_progress');
      await follow(r.data.merchant_uid);
    } else {
      show((r.data && r.data.code) || 'internal', r.data && r.data.code === 'card_declined' && r.data.detail ? r.data.detail : '');
    }
    await refresh();
    setBusy(false);
  }

  // follow watches a charge whose outcome is not known yet, for a little while; after
  // that the history shows it once billkey's reconciler has settled it.
  async function follow(merchantUID) {
    for (let i = 0; i < 8; i++) {
      await new Promise(function (resolve) { setTimeout(resolve, 1500); });
      const r = await api('GET', '/charges/' + encodeURIComponent(merchantUID));
      if (!r.ok || !r.data) {
        continue;
      }
      if (r.data.status === 'paid') {
        show('paid', r.data.name + ' · ' + won(r.data.amount));
        return;
      }
      if (r.data.status === 'failed') {
        show('card_declined', r.data.fail_reason || '');
        return;
      }
    }
  }

  async function removeCard() {
    if (busy) {
      return;
    }
    setBusy(true);
    const r = await api('DELETE', '/billing-key');
    if (r.status === 204) {
      show('removed');
    } else {
      show((r.data && r.data.code) || 'internal');
    }
    await refresh();
    setBusy(false);
  }

  el.register.addEventListener('click', registerCard);
  el.remove.addEventListener('click', removeCard);
  el.subscribe.forEach(function (btn) {
    btn.addEventListener('click', function () {
      subscribe(btn.getAttribute('data-plan'));
    });
  });

  // Coming back with the browser's Back button (from the payment window on a phone)
  // may restore this page as it was left, busy; start afresh.
  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted) {
      refresh().then(function () { setBusy(false); });
    }
  });

  refresh().then(function () { setBusy(false); });
})();
