/*
 * IMP shim served by the billkey iamport fake (package iamporttest).
 * TEST MODE ONLY: it opens a fake NHN KCP billing window; no card is charged or stored anywhere real.
 *
 * Surface (a subset of iamport's V1 JavaScript SDK):
 *   IMP.init(merchantCode)
 *   IMP.agency(merchantCode, tierCode)
 *   IMP.request_pay(params, callback)   // returns a Promise of rsp when callback is omitted
 *
 * The fake's base URL is this script's own URL without "/iamport.js", so the fake may be mounted
 * under any path, host or port. On PC the window opens as an overlay <iframe> over the page and
 * its result arrives by window.postMessage from the fake's origin. On a mobile device, when
 * params.m_redirect_url is set, the whole page goes to the window and comes back by a redirect to
 * m_redirect_url; the callback is not called.
 */
(function () {
  'use strict';

  var MESSAGE_TYPE = 'iamporttest:result';
  var CANCEL_CODE = 'F0005';
  var CANCEL_MSG = '사용자가 결제를 취소하였습니다';

  function scriptURL() {
    var s = document.currentScript;
    if (s && s.src) {
      return s.src;
    }
    var all = document.getElementsByTagName('script');
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/iamport\.js(?:[?#].*)?$/.test(all[i].src || '')) {
        return all[i].src;
      }
    }
    return '';
  }

  const base = scriptURL().replace(/[?#].*$/, '').replace(/\/iamport\.js$/, '');
  let baseOrigin = '';
  try {
    baseOrigin = new URL(base).origin;
  } catch (e) {
    baseOrigin = '';
  }

  const state = { code: '', tier: '', pending: null };

  function isMobile() {
    return /Mobi|Android|iPhone|iPad/i.test(navigator.userAgent || '');
  }

  function randomID() {
    const bytes = new Uint8Array(12);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (let i = 0; i < bytes.length; i++) {
        bytes[i] = Math.floor(Math.random() * 256);
      }
    }
    return Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  // errorRsp is the rsp of a request that ended in the browser (no init, bad params, the
  // overlay closed): the same keys the fake's window answers for a failure without a payment.
  function errorRsp(params, code, msg) {
    const p = params && typeof params === 'object' ? params : {};
    const str = function (k) { return typeof p[k] === 'string' ? p[k] : null; };
    return {
      success: false,
      error_code: code,
      error_msg: msg,
      imp_uid: null,
      merchant_uid: str('merchant_uid'),
      pay_method: str('pay_method') || 'card',
      paid_amount: 0,
      status: 'failed',
      name: str('name'),
      pg_provider: 'kcp_billing',
      currency: 'KRW'
    };
  }

  function deliver(callback, rsp) {
    try {
      callback(rsp);
    } catch (e) {
      setTimeout(function () { throw e; }, 0);
    }
  }

  function hiddenField(form, name, value) {
    const input = document.createElement('input');
    input.type = 'hidden';
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }

  function buildForm(fields, target) {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = base + '/window/open';
    form.acceptCharset = 'UTF-8';
    form.target = target;
    form.style.display = 'none';
    Object.keys(fields).forEach(function (k) {
      hiddenField(form, k, fields[k]);
    });
    return form;
  }

  function openOverlay(requestID, params, callback) {
    const frameName = 'iamporttest-frame-' + requestID;
    const overlay = document.createElement('div');
    overlay.id = 'iamporttest-overlay';
    overlay.setAttribute('role', 'dialog');
    overlay.setAttribute('aria-modal', 'true');
    overlay.setAttribute('aria-label', 'Fake KCP billing window (test mode)');
    Object.assign(overlay.style, {
      position: 'fixed', top: '0', left: '0', right: '0', bottom: '0',
      background: 'rgba(0,0,0,0.55)', zIndex: '2147483000',
      display: 'flex', alignItems: 'center', justifyContent: 'center'
    });

    // The close button sits in a bar of its own above the window, so it never covers the
    // window's content (its test-mode banner above all).
    const box = document.createElement('div');
    Object.assign(box.style, {
      position: 'relative', width: 'min(440px, 96vw)', height: 'min(720px, 94vh)',
      background: '#fff', borderRadius: '8px', overflow: 'hidden',
      boxShadow: '0 10px 40px rgba(0,0,0,0.4)',
      display: 'flex', flexDirection: 'column'
    });

    const bar = document.createElement('div');
    Object.assign(bar.style, {
      flex: '0 0 auto', display: 'flex', alignItems: 'center', justifyContent: 'space-between',
      height: '32px', padding: '0 4px 0 10px', background: '#f3f4f7', borderBottom: '1px solid #dde0e7',
      font: '12px/1 -apple-system, "Segoe UI", "Apple SD Gothic Neo", "Malgun Gothic", sans-serif',
      color: '#5b6272'
    });
    const label = document.createElement('span');
    label.textContent = 'iamporttest · TEST';

    const close = document.createElement('button');
    close.id = 'iamporttest-close';
    close.type = 'button';
    close.textContent = '\u00d7';
    close.setAttribute('aria-label', '닫기 / Close');
    Object.assign(close.style, {
      border: '0', background: 'transparent', fontSize: '22px', lineHeight: '1', padding: '2px 6px',
      cursor: 'pointer', color: '#1d2330'
    });

    const frame = document.createElement('iframe');
    frame.id = 'iamporttest-frame';
    frame.name = frameName;
    frame.title = 'Fake KCP billing window (test mode)';
    Object.assign(frame.style, { flex: '1 1 auto', width: '100%', minHeight: '0', border: '0' });

    bar.appendChild(label);
    bar.appendChild(close);
    box.appendChild(bar);
    box.appendChild(frame);
    overlay.appendChild(box);
    document.body.appendChild(overlay);

    function finish(rsp) {
      window.removeEventListener('message', onMessage);
      if (overlay.parentNode) {
        overlay.parentNode.removeChild(overlay);
      }
      state.pending = null;
      deliver(callback, rsp);
    }

    function onMessage(ev) {
      if (ev.origin !== baseOrigin || ev.source !== frame.contentWindow) {
        return;
      }
      const d = ev.data;
      if (!d || d.type !== MESSAGE_TYPE || d.request_id !== requestID || !d.rsp || typeof d.rsp !== 'object') {
        return;
      }
      finish(d.rsp);
    }

    close.addEventListener('click', function () {
      finish(errorRsp(params, CANCEL_CODE, CANCEL_MSG));
    });
    window.addEventListener('message', onMessage);
    state.pending = { requestID: requestID, finish: finish };
    return frameName;
  }

  function requestPay(params, callback) {
    if (typeof callback !== 'function') {
      return new Promise(function (resolve) {
        requestPay(params, resolve);
      });
    }
    if (!state.code) {
      const msg = 'IMP.init() 으로 가맹점 식별코드를 먼저 설정해 주세요. (call IMP.init(merchantCode) first)';
      try { window.alert(msg); } catch (e) { /* no alert in this context */ }
      deliver(callback, errorRsp(params, 'NOT_INITIALIZED', msg));
      return undefined;
    }
    if (!params || typeof params !== 'object') {
      deliver(callback, errorRsp(null, 'BAD_PARAMS', 'request_pay의 첫 인자는 객체여야 합니다. (params must be an object)'));
      return undefined;
    }
    if (!baseOrigin) {
      deliver(callback, errorRsp(params, 'NO_BASE', 'iamport.js의 주소를 알 수 없습니다. (cannot tell where iamport.js was loaded from)'));
      return undefined;
    }
    if (state.pending) {
      deliver(callback, errorRsp(params, 'BUSY', '이미 결제창이 열려 있습니다. (a payment window is already open)'));
      return undefined;
    }
    let json;
    try {
      json = JSON.stringify(params);
    } catch (e) {
      deliver(callback, errorRsp(params, 'BAD_PARAMS', 'request_pay 인자를 JSON으로 바꿀 수 없습니다. (params are not serialisable)'));
      return undefined;
    }
    const mobile = typeof params.m_redirect_url === 'string' && params.m_redirect_url !== '' && isMobile();
    const requestID = randomID();
    const fields = {
      imp_code: state.code,
      tier: state.tier,
      params: json,
      mode: mobile ? 'mobile' : 'pc',
      origin: window.location.origin,
      request_id: requestID
    };
    let target = '_self';
    if (!mobile) {
      target = openOverlay(requestID, params, callback);
    }
    const form = buildForm(fields, target);
    document.body.appendChild(form);
    form.submit();
    setTimeout(function () {
      if (form.parentNode) {
        form.parentNode.removeChild(form);
      }
    }, 0);
    return undefined;
  }

  window.IMP = {
    /** init remembers the merchant identification code ("imp########"). */
    init: function (code) {
      state.code = typeof code === 'string' ? code : String(code || '');
      state.tier = '';
    },
    /** agency remembers a merchant code and a tier code (sub-merchants). */
    agency: function (code, tier) {
      state.code = typeof code === 'string' ? code : String(code || '');
      state.tier = typeof tier === 'string' ? tier : '';
    },
    request_pay: requestPay,
    /** Fake-only: where the fake lives, and a marker that this is not the real SDK. */
    fake: true,
    base: base
  };
})();
