/* Fake KCP billing window (iamporttest): hands the result to the merchant page. TEST MODE ONLY. */
(function () {
  'use strict';
  const el = document.getElementById('result-json');
  if (!el) {
    return;
  }
  let rsp;
  try {
    rsp = JSON.parse(el.textContent);
  } catch (e) {
    return;
  }
  const body = document.body;
  const target = body.getAttribute('data-target-origin') || '*';
  const message = {
    type: 'iamporttest:result',
    request_id: body.getAttribute('data-request-id') || '',
    rsp: rsp
  };
  if (window.parent && window.parent !== window) {
    window.parent.postMessage(message, target);
  } else if (window.opener) {
    window.opener.postMessage(message, target);
  }
})();
