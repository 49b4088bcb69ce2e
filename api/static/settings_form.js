// The shop settings as a form on /kb: fill it from GET /v1/shop/settings, validate what the browser can
// (times, numbers, dates), and build the PUT body from the settings last loaded, so fields this form does
// not show are kept as they are. The API validates again; its 422 names the field, which is marked here.
"use strict";

const SettingsForm = (() => {
  const DATE = /^\d{4}-\d{2}-\d{2}$/;
  const el = (id) => document.getElementById(id);
  const lines = (v) => v.split(/[\s,，、]+/).map((x) => x.trim()).filter(Boolean);

  function fill(s) {
    el("s-timezone").value = s.timezone || "";
    el("s-ship-within").value = s.ship_within_hours ?? "";
    el("s-cutoff").value = s.daily_cutoff || "";
    el("s-pickup").value = s.last_pickup || "";
    el("s-weekends").checked = !!s.ships_on_weekends;
    el("s-holidays").value = (s.holidays || []).join("\n");
    el("s-workdays").value = (s.extra_workdays || []).join("\n");
    el("s-carriers").value = (s.default_carriers || []).join(", ");
    const c = s.compensation || {};
    el("s-coupon").value = c.coupon_yuan_max ?? 0;
    el("s-approval").checked = c.needs_approval !== false;
    el("s-gift").value = c.gift || "";
    const t = s.tone || {};
    el("s-address").value = t.address || "";
    el("s-signoff").value = t.sign_off || "";
    const r = s.review || {};
    el("s-target").value = r.response_target_s ?? 60;
    el("s-block").checked = !!r.block_violations;
    mark({});
  }

  // {field: message} for what the browser can tell is wrong; empty when the form may be sent.
  function check() {
    const errors = {};
    for (const input of document.querySelectorAll("#settings-fields [data-field]")) {
      if (input.type !== "checkbox" && input.tagName !== "TEXTAREA" && !input.checkValidity()) {
        errors[input.dataset.field] = input.validationMessage;
      }
    }
    for (const [id, field] of [["s-holidays", "holidays"], ["s-workdays", "extra_workdays"]]) {
      const bad = lines(el(id).value).filter((d) => !DATE.test(d) || Number.isNaN(Date.parse(`${d}T00:00:00Z`)));
      if (bad.length) errors[field] = `not a date (YYYY-MM-DD): ${bad.join(", ")}`;
    }
    return errors;
  }

  function read(base) {
    const num = (id) => Number(el(id).value);
    return {
      ...base,
      timezone: el("s-timezone").value.trim(),
      ship_within_hours: num("s-ship-within"),
      daily_cutoff: el("s-cutoff").value,
      last_pickup: el("s-pickup").value || null,
      ships_on_weekends: el("s-weekends").checked,
      holidays: lines(el("s-holidays").value),
      extra_workdays: lines(el("s-workdays").value),
      default_carriers: el("s-carriers").value.split(/[,，、]/).map((x) => x.trim()).filter(Boolean),
      compensation: { ...(base.compensation || {}), coupon_yuan_max: num("s-coupon"),
        needs_approval: el("s-approval").checked, gift: el("s-gift").value.trim() || null },
      tone: { ...(base.tone || {}), address: el("s-address").value.trim(), sign_off: el("s-signoff").value.trim() || null },
      review: { ...(base.review || {}), response_target_s: num("s-target"), block_violations: el("s-block").checked },
    };
  }

  // Mark the fields named in `errors` ({field: message}, fields as the API names them) and list them.
  function mark(errors) {
    const box = el("settings-form-errors");
    for (const input of document.querySelectorAll("#settings-fields [data-field]")) {
      const msg = errors[input.dataset.field]
        || Object.entries(errors).find(([f]) => f.startsWith(`${input.dataset.field}.`))?.[1];
      input.setAttribute("aria-invalid", msg ? "true" : "false");
      input.title = msg || "";
    }
    const entries = Object.entries(errors);
    box.hidden = !entries.length;
    box.replaceChildren(...(entries.length ? [h("strong", { text: globalThis.rdI18n ? rdI18n.t("Not saved. Please fix:") : "Not saved. Please fix:" }),
      h("ul", {}, entries.map(([f, m]) => h("li", {}, h("code", { text: f }), ` — ${m}`)))] : []));
  }

  function disable(disabled) {
    for (const x of document.querySelectorAll("#settings-fields input, #settings-fields textarea, #settings-fields button")) {
      x.disabled = disabled;
    }
  }

  return { fill, check, read, mark, disable };
})();
