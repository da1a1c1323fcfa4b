/*
 * billkey example: the staff's page. Plain JavaScript on top of common.js, no build step.
 * It talks only to billkey's admin routes under <body data-prefix> (/admin/api), which
 * the wiring mounts behind the staff login.
 *
 * Stable element ids (the browser test in examples/e2e relies on them):
 *
 *   staff login    #login-dana                       sign in as the demo operator
 *   admin page     #signed-in-as-staff, #staff-logout
 *                  #customer-{id}                    list one customer's charges and subscriptions
 *                  #charge-search (#search-user, #search-status, #search-merchant-uid, #search-submit)
 *                  #admin-charges tbody tr[data-merchant-uid][data-status] with button.open
 *                  #charges-more                     the next page
 *                  #charge-detail[data-merchant-uid][data-status][data-refunded]
 *                                                    one charge: #detail-facts, #detail-refunds,
 *                                                    #detail-history, #detail-notifications
 *                  #refund-amount, #refund-reason, #refund-submit, #reconcile-charge
 *                  #subs-search (#subs-status, #subs-submit)
 *                  #admin-subscriptions tbody tr[data-id][data-status]
 *                  #admin-inbox tbody tr[data-id][data-result] with button.reapply
 *                  #message[data-kind][data-code]    the last outcome (refunded,
 *                                                    refund_unknown, reconciled, reapplied,
 *                                                    or a billkey problem code)
 */
(function () {
  'use strict';

  const d = window.billkeyDemo;
  const show = d.show, won = d.won, when = d.when, day = d.day, cell = d.cell, badge = d.badge;
  const prefix = document.body.getAttribute('data-prefix') || '/admin/api';
  const statuses = d.readJSON('demo-statuses', {});
  const subStatuses = d.readJSON('demo-sub-statuses', {});
  const refundStatuses = d.readJSON('demo-refund-statuses', {});
  const plans = d.readJSON('demo-plans', {});

  const el = {
    search: document.getElementById('charge-search'),
    user: document.getElementById('search-user'),
    status: document.getElementById('search-status'),
    merchantUID: document.getElementById('search-merchant-uid'),
    charges: document.querySelector('#admin-charges tbody'),
    chargesEmpty: document.getElementById('admin-charges-empty'),
    more: document.getElementById('charges-more'),
    detail: document.getElementById('charge-detail'),
    detailUID: document.getElementById('detail-merchant-uid'),
    facts: document.getElementById('detail-facts'),
    refunds: document.querySelector('#detail-refunds tbody'),
    history: document.querySelector('#detail-history tbody'),
    notifications: document.querySelector('#detail-notifications tbody'),
    refundForm: document.getElementById('refund-form'),
    refundAmount: document.getElementById('refund-amount'),
    refundReason: document.getElementById('refund-reason'),
    refundSubmit: document.getElementById('refund-submit'),
    reconcile: document.getElementById('reconcile-charge'),
    subsForm: document.getElementById('subs-search'),
    subsStatus: document.getElementById('subs-status'),
    subs: document.querySelector('#admin-subscriptions tbody'),
    subsEmpty: document.getElementById('admin-subscriptions-empty'),
    inbox: document.querySelector('#admin-inbox tbody'),
    inboxEmpty: document.getElementById('admin-inbox-empty')
  };

  let busy = false;
  let nextCursor = '';
  let current = ''; // merchant_uid of the charge shown in #charge-detail

  function api(method, path, opts) {
    return d.request(method, prefix + path, opts);
  }

  function query(params) {
    const q = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k]) {
        q.set(k, params[k]);
      }
    });
    const s = q.toString();
    return s ? '?' + s : '';
  }

  function planTitle(id) {
    return plans[id] ? plans[id].title : id || '';
  }

  function button(text, className, onClick) {
    const b = cell('button', text, className);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  function setBusy(b) {
    busy = b;
    Array.prototype.forEach.call(document.querySelectorAll('main button'), function (x) { x.disabled = b; });
  }

  // run does one thing at a time with the buttons off, then refreshes what it may have
  // changed.
  async function run(fn) {
    if (busy) {
      return;
    }
    setBusy(true);
    try {
      await fn();
    } finally {
      setBusy(false);
    }
  }

  // ---------------------------------------------------------------------------------
  // Charges across customers.

  function chargeRow(c) {
    const tr = document.createElement('tr');
    tr.setAttribute('data-merchant-uid', c.merchant_uid);
    tr.setAttribute('data-status', c.status);
    tr.setAttribute('data-user', c.user_id);
    tr.appendChild(cell('td', when(c.paid_at || c.created_at)));
    tr.appendChild(cell('td', c.user_id));
    const what = cell('td', c.name);
    what.appendChild(cell('code', c.merchant_uid, 'uid'));
    tr.appendChild(what);
    tr.appendChild(cell('td', won(c.amount), 'num'));
    const st = document.createElement('td');
    st.appendChild(badge(d.named(statuses, c.status), c.status));
    if (c.refunded) {
      st.appendChild(cell('span', '환불 · Refunded ' + won(c.refunded), 'reason'));
    }
    tr.appendChild(st);
    const open = document.createElement('td');
    open.appendChild(button('열기 · Open', 'open', function () { run(function () { return openCharge(c.merchant_uid); }); }));
    tr.appendChild(open);
    return tr;
  }

  async function searchCharges(append) {
    const r = await api('GET', '/charges' + query({
      user_id: el.user.value.trim(),
      status: el.status.value,
      merchant_uid: el.merchantUID.value.trim(),
      cursor: append ? nextCursor : ''
    }));
    if (!r.ok || !r.data || !Array.isArray(r.data.charges)) {
      show((r.data && r.data.code) || 'internal');
      return;
    }
    if (!append) {
      el.charges.textContent = '';
    }
    r.data.charges.forEach(function (c) { el.charges.appendChild(chargeRow(c)); });
    nextCursor = r.data.next_cursor || '';
    el.more.hidden = !nextCursor;
    el.chargesEmpty.hidden = el.charges.children.length > 0;
  }

  // ---------------------------------------------------------------------------------
  // One charge: its record, refunds and reconciliation.

  function fact(label, value) {
    el.facts.appendChild(cell('dt', label));
    el.facts.appendChild(cell('dd', value));
  }

  function rows(tbody, list, make) {
    tbody.textContent = '';
    list.forEach(function (x) { tbody.appendChild(make(x)); });
  }

  function line(values) {
    const tr = document.createElement('tr');
    values.forEach(function (v) { tr.appendChild(v instanceof Node ? v : cell('td', v)); });
    return tr;
  }

  async function openCharge(merchantUID) {
    const r = await api('GET', '/charges/' + encodeURIComponent(merchantUID));
    if (!r.ok || !r.data || !r.data.charge) {
      show((r.data && r.data.code) || 'internal');
      return;
    }
    const rec = r.data;
    const c = rec.charge;
    current = c.merchant_uid;
    el.detail.hidden = false;
    el.detail.setAttribute('data-merchant-uid', c.merchant_uid);
    el.detail.setAttribute('data-status', c.status);
    el.detail.setAttribute('data-refunded', String(c.refunded || 0));
    el.detailUID.textContent = c.merchant_uid;
    el.facts.textContent = '';
    fact('고객 · User', c.user_id);
    fact('내용 · What', c.name + (c.plan ? ' (' + planTitle(c.plan) + ')' : ''));
    fact('금액 · Amount', won(c.amount) + (c.refunded ? ' · 환불 · refunded ' + won(c.refunded) : ''));
    fact('상태 · Status', d.named(statuses, c.status) + (c.fail_reason ? ' — ' + c.fail_reason : ''));
    fact('결제 · Paid', c.paid_at ? when(c.paid_at) : '—');
    fact('imp_uid', c.imp_uid || '—');
    if (c.subscription_id) {
      fact('구독 · Subscription', c.subscription_id);
    }
    fact('시도 · Attempts', String(c.attempts));
    rows(el.refunds, rec.refunds || [], function (x) {
      const tr = line([when(x.created_at), cell('td', won(x.amount), 'num'), d.named(refundStatuses, x.status), x.reason, x.operator]);
      tr.setAttribute('data-status', x.status);
      return tr;
    });
    rows(el.history, rec.history || [], function (h) { return line([when(h.at), h.text]); });
    rows(el.notifications, rec.notifications || [], function (n) { return line([when(n.received_at), n.status || '', n.result]); });
    const refundable = c.status === 'paid' && c.amount > (c.refunded || 0);
    el.refundSubmit.hidden = !refundable;
    el.refundAmount.max = String(c.amount - (c.refunded || 0));
    el.refundAmount.value = '';
  }

  async function refund() {
    if (!current) {
      return;
    }
    const amount = el.refundAmount.value.trim() === '' ? 0 : Number(el.refundAmount.value);
    const r = await api('POST', '/charges/' + encodeURIComponent(current) + '/refunds', {
      json: { amount: amount, reason: el.refundReason.value.trim() },
      headers: { 'Idempotency-Key': d.newIdempotencyKey() }
    });
    if (r.status === 201 && r.data) {
      show('refunded', won(r.data.amount) + ' · ' + r.data.reason);
    } else if (r.status === 202) {
      show('refund_unknown');
    } else {
      show((r.data && r.data.code) || 'internal');
    }
    await openCharge(current);
    await searchCharges(false);
  }

  async function reconcile() {
    if (!current) {
      return;
    }
    const r = await api('POST', '/charges/' + encodeURIComponent(current) + '/reconcile', { json: {} });
    show(r.ok ? 'reconciled' : (r.data && r.data.code) || 'internal', r.ok ? d.named(statuses, r.data.status) : '');
    await openCharge(current);
    await searchCharges(false);
  }

  // ---------------------------------------------------------------------------------
  // Subscriptions (past due first) and the webhook inbox.

  async function loadSubscriptions() {
    const r = await api('GET', '/subscriptions' + query({ status: el.subsStatus.value, user_id: el.user.value.trim() }));
    if (!r.ok || !r.data || !Array.isArray(r.data.subscriptions)) {
      show((r.data && r.data.code) || 'internal');
      return;
    }
    rows(el.subs, r.data.subscriptions, function (s) {
      const st = document.createElement('td');
      st.appendChild(badge(d.named(subStatuses, s.status), s.status));
      const period = s.current_period_start ? day(s.current_period_start) + ' – ' + day(s.current_period_end) : '—';
      const next = s.next_charge_at ? day(s.next_charge_at) + ' · ' + won(s.next_amount) : '—';
      const tr = line([s.user_id, planTitle(s.plan), st, period, next, String(s.retries || 0)]);
      tr.setAttribute('data-id', s.id);
      tr.setAttribute('data-status', s.status);
      return tr;
    });
    el.subsEmpty.hidden = r.data.subscriptions.length > 0;
  }

  async function loadInbox() {
    const r = await api('GET', '/notifications');
    if (!r.ok || !r.data || !Array.isArray(r.data.notifications)) {
      show((r.data && r.data.code) || 'internal');
      return;
    }
    rows(el.inbox, r.data.notifications, function (n) {
      const act = document.createElement('td');
      act.appendChild(button('다시 적용 · Re-apply', 'reapply', function () { run(function () { return reapply(n.id); }); }));
      const result = cell('td', n.result + (n.error ? ' — ' + n.error : ''));
      const tr = line([when(n.received_at), cell('td', n.merchant_uid || '', 'uid'), n.status || '', result, cell('td', String(n.count), 'num'), act]);
      tr.setAttribute('data-id', n.id);
      tr.setAttribute('data-result', n.result);
      tr.setAttribute('data-merchant-uid', n.merchant_uid || '');
      return tr;
    });
    el.inboxEmpty.hidden = r.data.notifications.length > 0;
  }

  async function reapply(id) {
    const r = await api('POST', '/notifications/' + encodeURIComponent(id) + '/reapply', { json: {} });
    show(r.ok ? 'reapplied' : (r.data && r.data.code) || 'internal', r.ok ? r.data.result : '');
    await loadInbox();
  }

  // ---------------------------------------------------------------------------------

  el.search.addEventListener('submit', function (ev) {
    ev.preventDefault();
    run(function () { return Promise.all([searchCharges(false), loadSubscriptions()]); });
  });
  el.more.addEventListener('click', function () { run(function () { return searchCharges(true); }); });
  Array.prototype.forEach.call(document.querySelectorAll('button.customer'), function (b) {
    b.addEventListener('click', function () {
      el.user.value = b.getAttribute('data-user');
      el.status.value = '';
      el.merchantUID.value = '';
      el.subsStatus.value = '';
      run(function () { return Promise.all([searchCharges(false), loadSubscriptions()]); });
    });
  });
  el.refundForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    run(refund);
  });
  el.reconcile.addEventListener('click', function () { run(reconcile); });
  el.subsForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    run(loadSubscriptions);
  });

  run(function () { return Promise.all([searchCharges(false), loadSubscriptions(), loadInbox()]); });
})();
