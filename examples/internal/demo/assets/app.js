/*
 * billkey example: the subscribe page's script. Plain JavaScript, no framework, no build
 * step, on top of common.js. It talks only to the billkey routes under <body data-prefix>
 * (e.g. /billing), and in the sandbox to the demo's time machine (/sandbox/clock).
 *
 * Stable element ids (the browser test in examples/e2e relies on them):
 *
 *   login page     #login-alice, #login-bob          sign in as a demo user
 *   every page     #logout                           sign out
 *                  #sandbox-banner | #live-banner    which iamport is in use
 *   subscribe page #card-status[data-state]          loading | none | registered
 *                  #card-masked                      the masked card number, once registered
 *                  #register-card, #remove-card      register (or replace) / remove the card
 *                  #plan-{id}-subscribe              subscribe to a plan (#plan-basic-subscribe,
 *                                                    #plan-pro-subscribe, #plan-backup-subscribe);
 *                                                    without a card it registers one and
 *                                                    subscribes in one go
 *                  #plan-{id}-switch                 switch the live subscription of the plan's
 *                                                    group to this plan from the next period
 *                  #plan-{id}-current                shown on the plan the customer holds
 *                  #subscriptions article.sub[data-id][data-plan][data-status]
 *                                                    one per subscription, live ones first;
 *                                                    status is incomplete, trialing, active,
 *                                                    past_due, canceled or ended. Inside:
 *                                                    .sub-period, .sub-next[data-amount],
 *                                                    .sub-entitled[data-entitled], .sub-note,
 *                                                    .sub-cancel, .sub-resume, and
 *                                                    table.renewals tbody tr[data-status][data-period]
 *                  #message[data-kind][data-code]    the last outcome in words; kind is ok, info
 *                                                    or error, code a billkey problem code or
 *                                                    issued / issued_paid / subscribed /
 *                                                    trial_started / canceled / resumed /
 *                                                    plan_changed / time_moved / removed / ...
 *                  #charges tbody tr[data-status][data-merchant-uid]
 *                                                    every charge, newest first
 *                  #time-machine, #clock-now[data-now], #time-day, #time-month
 *                                                    the sandbox's time machine
 *   result page    #result[data-code][data-signed-in], #back | #sign-in
 *                                                    where the mobile return lands
 *
 * The card on file comes with the page (#demo-card), and every answer that changes it
 * says how, so the script never asks for a card the customer does not have.
 *
 * Flow of "Register card": GET {prefix}/billing-key/request[?plan=ID] -> load the IMP
 * script it names (sdk_url: the real SDK, or in the sandbox the fake's shim) ->
 * IMP.init(imp_code) -> IMP.request_pay(params, callback). On a PC the callback posts the
 * result to {prefix}/billing-key/complete; on a phone the window comes back through
 * m_redirect_url and billkey's return handler sends the browser to /result. With a plan,
 * billkey starts the subscription as the card is registered.
 */
(function () {
  'use strict';

  const d = window.billkeyDemo;
  const request = d.request, readJSON = d.readJSON, show = d.show, won = d.won, toDate = d.toDate,
    when = d.when, day = d.day, cell = d.cell, badge = d.badge, newIdempotencyKey = d.newIdempotencyKey;
  const body = document.body;
  const prefix = body.getAttribute('data-prefix') || '/billing';
  const timeMachinePath = '/sandbox/clock';
  const statuses = readJSON('demo-statuses', {});
  const subStatuses = readJSON('demo-sub-statuses', {});
  const plans = readJSON('demo-plans', {});
  const cancelRule = readJSON('demo-cancel', { codes: [], phrases: [] });
  const cardOnFile = readJSON('demo-card', null);
  const clockState = readJSON('demo-clock', { now: null, can_travel: false });

  const el = {
    cardStatus: document.getElementById('card-status'),
    register: document.getElementById('register-card'),
    remove: document.getElementById('remove-card'),
    subs: document.getElementById('subscriptions'),
    subsEmpty: document.getElementById('subscriptions-empty'),
    chargesBody: document.querySelector('#charges tbody'),
    chargesEmpty: document.getElementById('charges-empty'),
    clockNow: document.getElementById('clock-now'),
    timeDay: document.getElementById('time-day'),
    timeMonth: document.getElementById('time-month'),
    subscribe: Array.prototype.slice.call(document.querySelectorAll('button.subscribe')),
    switchPlan: Array.prototype.slice.call(document.querySelectorAll('button.switch'))
  };

  let busy = false;
  let hasCard = false;
  let subscriptions = [];

  // clock is the shop's time as last read, and when (this page's own clock) it was read:
  // the shop's time runs on from there, until the time machine moves it.
  const clock = { now: null, at: 0 };

  function setClock(iso) {
    const d = iso ? new Date(iso) : null;
    clock.now = d && !isNaN(d.getTime()) ? d : null;
    clock.at = performance.now();
    if (el.clockNow && clock.now) {
      el.clockNow.textContent = when(clock.now);
      el.clockNow.setAttribute('data-now', clock.now.toISOString());
    }
  }

  function shopNow() {
    if (!clock.now) {
      return new Date();
    }
    return new Date(clock.now.getTime() + (performance.now() - clock.at));
  }

  // ---------------------------------------------------------------------------------
  // Talking to billkey.

  // api calls a billkey route under the prefix.
  function api(method, path, opts) {
    return request(method, prefix + path, opts);
  }

  // ---------------------------------------------------------------------------------
  // Showing things.

  function planTitle(id) {
    const p = plans[id];
    return p ? p.title : id;
  }

  // chargeName is a charge's order name, with the plan's English name beside it.
  function chargeName(c) {
    const en = c.plan && plans[c.plan] && plans[c.plan].en;
    return en ? c.name + ' · ' + en : c.name;
  }

  function chargeLine(c) {
    return chargeName(c) + ' · ' + won(c.amount);
  }

  function setBusy(b) {
    busy = b;
    el.register.disabled = b;
    el.remove.disabled = b;
    el.subscribe.forEach(function (btn) { btn.disabled = b; });
    el.switchPlan.forEach(function (btn) { btn.disabled = b; });
    if (el.timeDay) {
      el.timeDay.disabled = b;
      el.timeMonth.disabled = b;
    }
    Array.prototype.forEach.call(el.subs.querySelectorAll('button'), function (btn) { btn.disabled = b; });
  }

  function setCard(state, info) {
    const p = el.cardStatus;
    p.setAttribute('data-state', state);
    p.textContent = '';
    hasCard = state === 'registered';
    if (hasCard) {
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
      ko.textContent = '등록된 카드가 없습니다.';
      en.textContent = 'No card registered.';
      p.appendChild(ko);
      p.appendChild(document.createTextNode(' '));
      p.appendChild(en);
      el.register.textContent = '카드 등록 · Register card';
      el.remove.hidden = true;
    }
  }

  // cardGone updates the card on file after an answer that says there is none.
  function cardGone(code) {
    if (code === 'billing_key_missing' || code === 'billing_key_gone') {
      setCard('none');
    }
  }

  function statusWords(s) {
    return d.named(statuses, s);
  }

  function subStatusWords(s) {
    return d.named(subStatuses, s);
  }

  // ---------------------------------------------------------------------------------
  // The charge history.

  // While a charge in the history is not settled yet (a first month paid as the card
  // was registered, a timeout), the page is read again a few times.
  const unsettled = ['pending', 'charging', 'unknown'];
  const watchEvery = 1500;
  const watchRounds = 8;
  let watched = 0;
  let watchTimer = null;

  function watchUnsettled(charges) {
    if (!charges.some(function (c) { return unsettled.indexOf(c.status) >= 0; })) {
      watched = 0;
      return;
    }
    if (watchTimer !== null || watched >= watchRounds) {
      return;
    }
    watched++;
    watchTimer = setTimeout(function () {
      watchTimer = null;
      refresh();
    }, watchEvery);
  }

  function statusCell(c) {
    const td = document.createElement('td');
    td.appendChild(badge(statusWords(c.status), c.status));
    if (c.status === 'failed' && c.fail_reason) {
      td.appendChild(cell('span', c.fail_reason, 'reason'));
    }
    if (c.refunded) {
      td.appendChild(cell('span', '환불 · Refunded ' + won(c.refunded), 'reason'));
    }
    return td;
  }

  async function loadCharges() {
    const r = await api('GET', '/charges');
    if (!r.ok || !r.data || !Array.isArray(r.data.charges)) {
      if (r.data && r.data.code === 'unauthenticated') {
        show('unauthenticated');
      }
      return;
    }
    const tbody = el.chargesBody;
    tbody.textContent = '';
    r.data.charges.forEach(function (c) {
      const tr = document.createElement('tr');
      tr.setAttribute('data-status', c.status);
      tr.setAttribute('data-merchant-uid', c.merchant_uid);
      tr.appendChild(cell('td', when(c.paid_at || c.created_at)));
      tr.appendChild(cell('td', chargeName(c)));
      tr.appendChild(cell('td', won(c.amount), 'num'));
      tr.appendChild(statusCell(c));
      tbody.appendChild(tr);
    });
    el.chargesEmpty.hidden = r.data.charges.length > 0;
    watchUnsettled(r.data.charges);
  }

  // ---------------------------------------------------------------------------------
  // Subscriptions.

  // holding: the statuses in which a subscription holds its plan group (a second one of
  // the group is refused; its plan can be switched).
  const holding = ['incomplete', 'trialing', 'active', 'past_due'];

  function holds(s) {
    return holding.indexOf(s.status) >= 0;
  }

  // periodsOf numbers a subscription's charges by the period each pays for: every period
  // is paid by one charge, and the charges that failed before it (retries) were for the
  // same period. Returns [{charge, period}] oldest first.
  function periodsOf(charges) {
    const out = [];
    let period = 1;
    charges.slice().reverse().forEach(function (c) {
      out.push({ charge: c, period: period });
      if (c.paid_at) {
        period++;
      }
    });
    return out;
  }

  function renewalsTable(s) {
    const table = document.createElement('table');
    table.className = 'renewals';
    const head = document.createElement('thead');
    const hr = document.createElement('tr');
    ['기간 · Period', '일시 · When', '금액 · Amount', '상태 · Status'].forEach(function (t, i) {
      hr.appendChild(cell('th', t, i === 2 ? 'num' : ''));
    });
    head.appendChild(hr);
    table.appendChild(head);
    const tbody = document.createElement('tbody');
    const rows = periodsOf(s.charges || []);
    const lastPaid = rows.filter(function (x) { return x.charge.paid_at; }).pop();
    rows.reverse().forEach(function (x) {
      const c = x.charge;
      const tr = document.createElement('tr');
      tr.setAttribute('data-status', c.status);
      tr.setAttribute('data-period', String(x.period));
      tr.setAttribute('data-merchant-uid', c.merchant_uid);
      let period = x.period + '번째 · #' + x.period;
      if (x === lastPaid && s.current_period_start && s.current_period_end) {
        period += ' (' + day(s.current_period_start) + ' – ' + day(s.current_period_end) + ')';
      }
      tr.appendChild(cell('td', period));
      tr.appendChild(cell('td', when(c.paid_at || c.created_at)));
      tr.appendChild(cell('td', won(c.amount), 'num'));
      tr.appendChild(statusCell(c));
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    return table;
  }

  function fact(dl, label, value, className) {
    dl.appendChild(cell('dt', label));
    const dd = cell('dd', value, className);
    dl.appendChild(dd);
    return dd;
  }

  // subNote says what a customer must know of a subscription's state, or ''.
  function subNote(s) {
    switch (s.status) {
      case 'trialing':
        return '무료 체험 중: ' + day(s.trial_end) + '에 첫 결제 · Free trial: first charge on ' + day(s.trial_end);
      case 'past_due':
        return '갱신 결제에 실패했습니다(' + s.retries + '회). 새 카드를 등록하면 바로 다시 결제합니다. ' +
          'The renewal failed (' + s.retries + ' times). Register a new card to pay it now.';
      case 'canceled':
        return '해지 예정: ' + day(s.current_period_end || s.trial_end) + '에 끝납니다 · Ends on ' + day(s.current_period_end || s.trial_end);
      case 'ended':
        return '종료 · Ended ' + when(s.ended_at) + (s.end_reason ? ' — ' + s.end_reason : '');
      case 'incomplete':
        return '첫 결제를 확인하고 있습니다 · Confirming the first payment';
    }
    if (s.next_plan) {
      return '다음 기간부터 ' + planTitle(s.next_plan) + ' · ' + planTitle(s.next_plan) + ' from the next period';
    }
    return '';
  }

  function subActions(s) {
    const actions = document.createElement('div');
    actions.className = 'actions';
    if (s.status === 'active' || s.status === 'trialing' || s.status === 'past_due') {
      const b = cell('button', s.status === 'past_due' ? '지금 해지 · Cancel now' : '해지 · Cancel', 'sub-cancel danger');
      b.type = 'button';
      b.addEventListener('click', function () { cancelSubscription(s); });
      actions.appendChild(b);
    }
    if (s.status === 'canceled') {
      const b = cell('button', '해지 취소 · Resume', 'sub-resume primary');
      b.type = 'button';
      b.addEventListener('click', function () { resumeSubscription(s); });
      actions.appendChild(b);
    }
    return actions;
  }

  function subArticle(s) {
    const art = document.createElement('article');
    art.className = 'sub';
    art.id = 'sub-' + s.id;
    art.setAttribute('data-id', s.id);
    art.setAttribute('data-plan', s.plan);
    art.setAttribute('data-status', s.status);
    const h = document.createElement('h3');
    h.textContent = planTitle(s.plan) + ' ';
    h.appendChild(badge(subStatusWords(s.status), s.status));
    art.appendChild(h);

    const dl = document.createElement('dl');
    dl.className = 'facts';
    const period = s.current_period_start && s.current_period_end ?
      day(s.current_period_start) + ' – ' + day(s.current_period_end) : '—';
    fact(dl, '현재 기간 · Current period', period, 'sub-period');
    const next = s.next_charge_at ?
      day(s.next_charge_at) + ' · ' + won(s.next_amount) + (s.next_plan ? ' (' + planTitle(s.next_plan) + ')' : '') :
      '없음 · None';
    const nextDD = fact(dl, '다음 결제 · Next charge', next, 'sub-next');
    nextDD.setAttribute('data-amount', String(s.next_amount || 0));
    const until = s.entitled_until ? toDate(s.entitled_until) : null;
    const entitled = !!until && shopNow() < until;
    const access = entitled ? day(until) + '까지 이용 가능 · Access until ' + day(until) : '이용 불가 · No access';
    const accessDD = fact(dl, '이용 · Access', access, 'sub-entitled');
    accessDD.setAttribute('data-entitled', entitled ? 'true' : 'false');
    art.appendChild(dl);

    const note = subNote(s);
    if (note) {
      art.appendChild(cell('p', note, 'sub-note'));
    }
    art.appendChild(subActions(s));
    if (s.charges && s.charges.length) {
      art.appendChild(renewalsTable(s));
    }
    return art;
  }

  function renderSubscriptions(list) {
    subscriptions = list;
    el.subs.textContent = '';
    // Live ones first; each group newest first, as billkey lists them.
    const live = list.filter(function (s) { return s.status !== 'ended'; });
    const ended = list.filter(function (s) { return s.status === 'ended'; });
    live.concat(ended).forEach(function (s) { el.subs.appendChild(subArticle(s)); });
    el.subsEmpty.hidden = list.length > 0;
    updatePlans();
    if (busy) {
      setBusy(true); // the buttons just made
    }
  }

  // updatePlans shows, on each plan, whether the customer can subscribe to it, switch to
  // it (another plan of a group they hold) or already holds it.
  function updatePlans() {
    Object.keys(plans).forEach(function (id) {
      const group = plans[id].group;
      const held = subscriptions.filter(function (s) { return holds(s) && plans[s.plan] && plans[s.plan].group === group; })[0];
      const sub = document.getElementById('plan-' + id + '-subscribe');
      const sw = document.getElementById('plan-' + id + '-switch');
      const current = document.getElementById('plan-' + id + '-current');
      if (!sub || !sw || !current) {
        return;
      }
      sub.hidden = !!held;
      const effective = held ? held.next_plan || held.plan : '';
      current.hidden = !held || held.plan !== id || effective !== id;
      sw.hidden = !held || effective === id;
      if (held && held.plan === id) {
        sw.textContent = '이 요금제 유지 · Keep this plan';
      } else {
        sw.textContent = '다음 기간부터 이 요금제로 · Switch from the next period';
      }
    });
  }

  async function loadSubscriptions() {
    const r = await api('GET', '/subscriptions');
    if (r.ok && r.data && Array.isArray(r.data.subscriptions)) {
      renderSubscriptions(r.data.subscriptions);
    }
  }

  async function loadClock() {
    if (!clockState.can_travel) {
      return;
    }
    const r = await request('GET', timeMachinePath);
    if (r.ok && r.data && r.data.now) {
      setClock(r.data.now);
    }
  }

  async function refresh() {
    await loadClock();
    await Promise.all([loadSubscriptions(), loadCharges()]);
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

  // registerCard opens the payment window; with a plan, billkey starts the subscription
  // once the card is registered (its first month charged, or its trial started).
  async function registerCard(plan) {
    if (busy) {
      return;
    }
    setBusy(true);
    const query = typeof plan === 'string' && plan ? '?plan=' + encodeURIComponent(plan) : '';
    const r = await api('GET', '/billing-key/request' + query);
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

  // windowCancelled tells a window the customer closed from one that failed.
  function windowCancelled(rsp) {
    const code = rsp.error_code ? String(rsp.error_code) : '';
    const msg = rsp.error_msg ? String(rsp.error_msg) : '';
    return (code !== '' && cancelRule.codes.indexOf(code) >= 0) ||
      cancelRule.phrases.some(function (p) { return msg.indexOf(p) >= 0; });
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
    // The result goes to billkey also when the customer closed the window, so that the
    // registration is settled at once.
    const r = await api('POST', '/billing-key/complete', { json: payload });
    if (r.status === 200 && r.data) {
      if (r.data.billing_key) {
        setCard('registered', r.data.billing_key);
      }
      await showRegistered(r.data);
    } else if (r.status === 202) {
      show('issuance_pending');
    } else if (windowCancelled(rsp)) {
      show('window_cancelled');
    } else {
      // The window's own message (e.g. the card company's reason) helps the customer.
      show((r.data && r.data.code) || 'internal', rsp.error_msg ? String(rsp.error_msg) : '');
    }
    await refresh();
    setBusy(false);
  }

  // showRegistered says how a registration ended, with the subscription it started or
  // the charge of the plan it came with, if any.
  async function showRegistered(res) {
    const c = res.first_charge;
    const sub = res.subscription;
    if (!c && sub && sub.status === 'trialing') {
      show('trial_started', planTitle(sub.plan) + ' · ' + day(sub.trial_end));
    } else if (!c) {
      show('issued');
    } else if (c.status === 'paid') {
      show('issued_paid', chargeLine(c));
    } else if (c.status === 'failed') {
      show('card_declined', c.fail_reason || '');
    } else {
      show('charge_in_progress');
      await follow(c.merchant_uid);
    }
  }

  // ---------------------------------------------------------------------------------
  // Subscribe, switch, cancel, resume; remove the card.

  async function subscribe(plan) {
    if (busy) {
      return;
    }
    if (!hasCard) {
      await registerCard(plan);
      return;
    }
    setBusy(true);
    const r = await api('POST', '/subscriptions', {
      json: { plan: plan },
      headers: { 'Idempotency-Key': newIdempotencyKey() }
    });
    const v = r.data;
    if (r.status === 201 && v) {
      if (v.status === 'trialing') {
        show('trial_started', planTitle(v.plan) + ' · ' + day(v.trial_end));
      } else {
        show('subscribed', v.charges && v.charges.length ? chargeLine(v.charges[0]) : planTitle(v.plan));
      }
    } else if (r.status === 202 && v) {
      show('charge_in_progress');
      if (v.charges && v.charges.length) {
        await follow(v.charges[0].merchant_uid);
      }
    } else {
      const code = (v && v.code) || 'internal';
      cardGone(code);
      let reason = '';
      if (code === 'card_declined' && v.merchant_uid) {
        reason = await declineReason(v.merchant_uid);
      }
      show(code, reason);
    }
    await refresh();
    setBusy(false);
  }

  // change runs one change of a subscription (cancel, resume, switch) and says how it
  // went: ok(view) gives the outcome's code and its facts.
  async function change(path, payload, ok) {
    if (busy) {
      return;
    }
    setBusy(true);
    const r = await api('POST', path, { json: payload });
    if (r.ok && r.data) {
      const out = ok(r.data);
      show(out[0], out[1]);
    } else {
      show((r.data && r.data.code) || 'internal');
    }
    await refresh();
    setBusy(false);
  }

  function cancelSubscription(s) {
    return change('/subscriptions/' + encodeURIComponent(s.id) + '/cancel', { at_period_end: true }, function (v) {
      if (v.status === 'ended') {
        return ['canceled', '종료 · Ended ' + when(v.ended_at)];
      }
      return ['canceled', day(v.current_period_end || v.trial_end) + '까지 · until ' + day(v.current_period_end || v.trial_end)];
    });
  }

  function resumeSubscription(s) {
    return change('/subscriptions/' + encodeURIComponent(s.id) + '/resume', {}, function (v) {
      return ['resumed', v.next_charge_at ? day(v.next_charge_at) + ' · ' + won(v.next_amount) : ''];
    });
  }

  function switchPlan(plan) {
    const group = plans[plan] && plans[plan].group;
    const held = subscriptions.filter(function (s) { return holds(s) && plans[s.plan] && plans[s.plan].group === group; })[0];
    if (!held) {
      return subscribe(plan);
    }
    return change('/subscriptions/' + encodeURIComponent(held.id) + '/plan', { plan: plan }, function (v) {
      const target = v.next_plan || v.plan;
      return ['plan_changed', planTitle(target) + (v.next_charge_at ? ' · ' + day(v.next_charge_at) + ' · ' + won(v.next_amount) : '')];
    });
  }

  // declineReason is the card company's own words for a declined charge, from the charge
  // itself (the problem's detail is written for developers).
  async function declineReason(merchantUID) {
    const r = await api('GET', '/charges/' + encodeURIComponent(merchantUID));
    return r.ok && r.data && r.data.fail_reason ? String(r.data.fail_reason) : '';
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
        show('paid', chargeLine(r.data));
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
      setCard('none');
      show('removed');
    } else {
      const code = (r.data && r.data.code) || 'internal';
      cardGone(code);
      show(code);
    }
    await refresh();
    setBusy(false);
  }

  // ---------------------------------------------------------------------------------
  // The sandbox's time machine.

  async function travel(step) {
    if (busy) {
      return;
    }
    setBusy(true);
    const r = await request('POST', timeMachinePath, { json: { step: step } });
    if (r.ok && r.data && r.data.now) {
      setClock(r.data.now);
      const w = r.data.sweep || {};
      show('time_moved', '상점 시각 · Shop time: ' + when(r.data.now) +
        ' · 결제 · charged ' + (w.charged || 0) + ' · 갱신 · renewed ' + (w.renewed || 0) +
        ' · 실패 · failed ' + (w.failed || 0) + ' · 종료 · ended ' + (w.ended || 0));
    } else {
      show((r.data && r.data.code) || 'internal');
    }
    await refresh();
    setBusy(false);
  }

  // ---------------------------------------------------------------------------------

  el.register.addEventListener('click', function () { registerCard(''); });
  el.remove.addEventListener('click', removeCard);
  el.subscribe.forEach(function (btn) {
    btn.addEventListener('click', function () { subscribe(btn.getAttribute('data-plan')); });
  });
  el.switchPlan.forEach(function (btn) {
    btn.addEventListener('click', function () { switchPlan(btn.getAttribute('data-plan')); });
  });
  if (el.timeDay) {
    el.timeDay.addEventListener('click', function () { travel('day'); });
    el.timeMonth.addEventListener('click', function () { travel('month'); });
  }

  // Coming back with the browser's Back button (from the payment window on a phone)
  // may restore this page as it was left, busy and with an old card: load it afresh.
  window.addEventListener('pageshow', function (ev) {
    if (ev.persisted) {
      window.location.reload();
    }
  });

  setClock(clockState.now);
  setCard(cardOnFile ? 'registered' : 'none', cardOnFile);
  refresh().then(function () { setBusy(false); });
})();
