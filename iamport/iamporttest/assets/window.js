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

  function check(name) {
    const v = fields[name].value.trim();
    let msg = '';
    if (name === 'number') {
      const d = digits(v);
      if (d === '') {
        msg = '카드번호를 입력하세요. / Enter the card number.';
      } else if (!/^\d+$/.test(d)) {
        msg = '카드번호는 숫자만 입력하세요. / Digits only.';
      } else if (d.length < 13 || d.length > 19) {
        msg = '카드번호는 13~19자리입니다. / 13 to 19 digits.';
      }
    } else if (name === 'expiry') {
      const m = /^(\d{2})\s*\/?\s*(\d{2})$/.exec(v);
      if (v === '') {
        msg = '유효기간을 입력하세요. / Enter the expiry date.';
      } else if (!m || Number(m[1]) < 1 || Number(m[1]) > 12) {
        msg = '유효기간은 MM/YY 형식입니다. / Use MM/YY.';
      }
    } else if (name === 'birth') {
      if (!/^(\d{6}|\d{10})$/.test(v)) {
        msg = '생년월일 6자리(YYMMDD) 또는 사업자번호 10자리를 입력하세요. / 6-digit birth date (YYMMDD) or 10-digit business number.';
      }
    } else if (name === 'pwd') {
      if (!/^\d{2}$/.test(v)) {
        msg = '비밀번호 앞 2자리를 입력하세요. / First 2 digits of the card PIN.';
      }
    }
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
