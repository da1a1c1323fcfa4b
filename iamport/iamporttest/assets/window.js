/* Fake KCP billing window (iamporttest): inline validation. TEST MODE ONLY. */
(function () {
  'use strict';
  const form = document.getElementById('card-form');
  if (!form) {
    return;
  }
  const fields = {
    number: document.getElementById('card-number'),
    expiry: document.getElementById('card-expiry'),
    birth: document.getElementById('card-birth'),
    pwd: document.getElementById('card-pwd')
  };
  const errors = {
    number: document.getElementById('card-number-error'),
    expiry: document.getElementById('card-expiry-error'),
    birth: document.getElementById('card-birth-error'),
    pwd: document.getElementById('card-pwd-error')
  };
  const submit = document.getElementById('card-submit');

  function digits(v) {
    return v.replace(/[\s-]/g, '');
  }

  // The messages come from the page (window.go writes them once for the server and here).
  const messages = JSON.parse(form.dataset.messages || '{}');

  function check(name) {
    const v = fields[name].value.trim();
    let msg = '';
    if (name === 'number') {
      const d = digits(v);
      if (d === '') {
        msg = messages.number_required;
      } else if (!/^\d+$/.test(d)) {
        msg = messages.number_digits;
      } else if (d.length < 13 || d.length > 19) {
        msg = messages.number_length;
      }
    } else if (name === 'expiry') {
      const m = /^(\d{2})\s*\/?\s*(\d{2})$/.exec(v);
      if (v === '') {
        msg = messages.expiry_required;
      } else if (!m || Number(m[1]) < 1 || Number(m[1]) > 12) {
        msg = messages.expiry_format;
      }
    } else if (name === 'birth') {
      if (!/^(\d{6}|\d{10})$/.test(v)) {
        msg = messages.birth_format;
      }
    } else if (name === 'pwd') {
      if (!/^\d{2}$/.test(v)) {
        msg = messages.pwd_format;
      }
    }
    msg = msg || '';
    errors[name].textContent = msg;
    fields[name].setAttribute('aria-invalid', msg ? 'true' : 'false');
    return msg === '';
  }

  Object.keys(fields).forEach(function (name) {
    fields[name].addEventListener('blur', function () {
      if (fields[name].value !== '') {
        check(name);
      }
    });
  });

  form.addEventListener('submit', function (ev) {
    let ok = true;
    let first = null;
    Object.keys(fields).forEach(function (name) {
      if (!check(name)) {
        ok = false;
        first = first || fields[name];
      }
    });
    if (!ok) {
      ev.preventDefault();
      first.focus();
      return;
    }
    if (submit.disabled) {
      ev.preventDefault();
      return;
    }
    // Disable after the browser has captured the form data, so a double click sends one request.
    setTimeout(function () {
      submit.disabled = true;
      submit.textContent = '처리 중… / Processing…';
    }, 0);
  });
})();
