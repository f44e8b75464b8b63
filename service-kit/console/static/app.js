// The consoles' script (hive-service's and cortex-service's): every change is a call of the
// service's API (the session cookie plus the session's CSRF token), and the page's live regions
// follow the organisation's event stream (hive) or are polled while something runs. No
// framework, no build step.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  function flash(message, kind) {
    const box = document.getElementById("flash") || document.getElementById("login-error");
    if (!box) return;
    box.textContent = message;
    box.className = kind || "error";
    if (kind === "ok") setTimeout(() => { if (box.textContent === message) box.textContent = ""; }, 4000);
  }

  // One API call; answers the parsed body, or throws an Error with TheHive's message.
  async function api(method, url, body, files) {
    const headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    let payload;
    if (files && files.length) {
      payload = new FormData();
      payload.append("_json", JSON.stringify(body || {}));
      for (const [name, file] of files) payload.append(name, file, file.name);
    } else if (body !== undefined && method !== "GET") {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!res.ok) {
      const msg = (data && data.message) || (typeof data === "string" && data) || res.statusText;
      const err = new Error(res.status + " " + msg);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  function fill(template, data) {
    return template.replace(/\{([A-Za-z_]+)\}/g, (_, k) =>
      encodeURIComponent(data && data[k] !== undefined ? data[k] : ""));
  }

  // What to do once a call succeeded: reload (default), refresh (the live regions only),
  // go:<url with {field}>, text:<sel>,
  // fill:<sel> (elements with data-field get the answer's fields).
  function then(spec, data) {
    spec = spec || "reload";
    if (spec === "reload") { location.reload(); return; }
    if (spec === "refresh") return refresh(true);
    const [verb, arg] = [spec.slice(0, spec.indexOf(":")), spec.slice(spec.indexOf(":") + 1)];
    const first = Array.isArray(data) ? data[0] : data;
    if (verb === "go") { location.href = fill(arg, first || {}).replace(/%2F/g, "/"); return; }
    const el = document.querySelector(arg);
    if (!el) return;
    if (verb === "text") {
      el.textContent = typeof first === "string" ? first : (first && (first.key || JSON.stringify(first))) || "";
    } else if (verb === "fill") {
      el.querySelectorAll("[data-field]").forEach((f) => { f.textContent = first ? (first[f.dataset.field] || "") : ""; });
    }
  }

  function selected(scope) {
    return Array.from((scope || document).querySelectorAll("input.sel:checked")).map((i) => i.value);
  }

  // A form's fields as a JSON body (data-type: int, bool, list, lines, date; data-keep keeps
  // empty values; data-path fields go into the URL instead).
  // A value of a row's custom field default, typed after the field chosen beside it.
  function cfValue(el, v) {
    const select = el.parentElement.querySelector("select[name=name]");
    const opt = select && select.selectedOptions[0];
    const kind = opt ? opt.dataset.kind : "string";
    if (v === "") return null;
    if (kind === "integer") return parseInt(v, 10);
    if (kind === "float") return parseFloat(v);
    if (kind === "boolean") return v === "true" || v === "yes" || v === "1";
    if (kind === "date") return new Date(v).getTime();
    return v;
  }

  function valueOf(el) {
    const type = el.dataset.type || "";
    if (el.type === "checkbox") {
      if (type !== "bool") return el.checked ? el.value : undefined;
      return el.checked || ("keep" in el.dataset) ? el.checked : undefined;
    }
    let v = el.value.trim();
    if (type === "cf") return cfValue(el, v);
    if (v === "" && !("keep" in el.dataset)) return undefined;
    if (type === "int") v = parseInt(v, 10);
    else if (type === "number") v = parseFloat(v);
    else if (type === "bool-value") v = v === "true";
    else if (type === "list") v = v.split(",").map((s) => s.trim()).filter(Boolean);
    else if (type === "lines") {
      v = v.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
      // data-kind (or data-kind-from: the form field that names it): numbers for numeric kinds.
      const from = el.dataset.kindFrom && el.form && el.form.elements[el.dataset.kindFrom];
      const kind = el.dataset.kind || (from ? from.value : "");
      if (kind === "integer") v = v.map((s) => parseInt(s, 10));
      else if (kind === "float") v = v.map((s) => parseFloat(s));
    }
    else if (type === "date") v = new Date(v).getTime();
    return v;
  }

  // Repeated rows (fieldset[data-rows=<name>] of .row-item): an array of objects under <name>,
  // each row's order its place when it gives none.
  function rowsOf(form, body) {
    for (const set of form.querySelectorAll("fieldset[data-rows]")) {
      body[set.dataset.rows] = Array.from(set.querySelectorAll(":scope > .row-item")).map((row, i) => {
        const item = {};
        for (const el of row.querySelectorAll("[name]")) {
          const v = valueOf(el);
          if (v !== undefined && !(typeof v === "number" && isNaN(v))) item[el.name] = v;
        }
        if (set.dataset.rows === "tasks" && item.order === undefined) item.order = i;
        if (set.dataset.rows === "customFields") item.order = i;
        return item;
      });
    }
  }

  function bodyOf(form) {
    const body = {};
    const path = {};
    if (form.dataset.json) {
      const text = form.elements[form.dataset.json].value;
      try { return { body: JSON.parse(text), path }; } catch (e) { throw new Error("Not valid JSON: " + e.message); }
    }
    rowsOf(form, body);
    for (const el of form.elements) {
      if (!el.name || el.type === "file" || el.type === "submit" || el.name === "artifact") continue;
      if (el.closest("fieldset[data-rows]")) continue;
      // data-type="multi" checkboxes of one name: the checked values as a list.
      if (el.dataset.type === "multi") { body[el.name] = (body[el.name] || []).concat(el.checked ? [el.value] : []); continue; }
      const v = valueOf(el);
      if (v === undefined || (typeof v === "number" && isNaN(v))) continue;
      // data-group="configuration": the value goes into body.configuration.
      if (el.dataset.group) { (body[el.dataset.group] = body[el.dataset.group] || {})[el.name] = v; continue; }
      if ("path" in el.dataset) path[el.name] = v; else body[el.name] = v;
    }
    return { body, path };
  }

  async function submitForm(form) {
    const method = form.dataset.method || "POST";
    let parts;
    try { parts = bodyOf(form); } catch (e) { return flash(e.message); }
    const { body, path } = parts;
    let url = fill(form.dataset.url, path).replace(/%2C/g, ",");
    const button = form.querySelector("button:not([type=button])");
    if (button) button.disabled = true;
    try {
      let result;
      if (form.dataset.eachJson) {
        const boxes = form.querySelectorAll('input[name="' + form.dataset.eachJson + '"]:checked');
        if (!boxes.length) throw new Error("Select at least one line");
        result = [];
        for (const b of boxes) result.push(await api(method, url, JSON.parse(b.value)));
        flash(boxes.length + " imported", "ok");
      } else {
        let payload = body;
        if (form.dataset.bulk) {
          const ids = selected();
          if (!ids.length) throw new Error("Select at least one line");
          payload[form.dataset.bulk] = ids;
        }
        if (form.dataset.wrap) payload = { [form.dataset.wrap]: [payload] };
        // data-key: the body goes under that key ({"value": <the JSON>} for a setting).
        if (form.dataset.key) payload = { [form.dataset.key]: payload };
        const files = [];
        if (form.dataset.files) {
          for (const input of form.querySelectorAll('input[type="file"]')) {
            for (const f of input.files) files.push([input.name, f]);
          }
          // One observable per line, or the file.
          if (files.length && payload.data !== undefined && !payload.data.length) delete payload.data;
        }
        result = await api(method, url, payload, files);
      }
      form.reset();
      then(form.dataset.then, result);
    } catch (e) {
      flash(e.message);
    } finally {
      if (button) button.disabled = false;
    }
  }

  async function clickAction(btn) {
    if (btn.dataset.confirm && !confirm(btn.dataset.confirm)) return;
    const method = btn.dataset.method || "POST";
    btn.disabled = true;
    try {
      let result;
      if (btn.dataset.each) {
        const ids = selected();
        if (!ids.length) throw new Error("Select at least one line");
        for (const id of ids) result = await api(method, fill(btn.dataset.each, { id }));
      } else if (btn.dataset.bulk) {
        const ids = selected();
        if (!ids.length) throw new Error("Select at least one line");
        result = await api(method, btn.dataset.url, { [btn.dataset.bulk]: ids });
      } else {
        const body = btn.dataset.body ? JSON.parse(btn.dataset.body) : (method === "GET" ? undefined : {});
        result = await api(method, btn.dataset.url, body);
      }
      then(btn.dataset.then, result);
    } catch (e) {
      flash(e.message);
    } finally {
      btn.disabled = false;
    }
  }

  // New case from the selected alerts: the first is imported, the others merged into it.
  async function caseFromSelection() {
    const ids = selected();
    if (!ids.length) return flash("Select at least one alert");
    try {
      const c = await api("POST", "/api/v1/alert/" + encodeURIComponent(ids[0]) + "/case", {});
      if (ids.length > 1) await api("POST", "/api/v1/alert/merge/_bulk", { caseId: c._id, alertIds: ids.slice(1) });
      location.href = "/cases/" + encodeURIComponent(c._id);
    } catch (e) { flash(e.message); }
  }

  async function runAll() {
    const buttons = document.querySelectorAll("button[data-run]");
    try {
      for (const b of buttons) await api("POST", b.dataset.url, JSON.parse(b.dataset.body));
      flash(buttons.length + " analyzers started", "ok");
      refresh(true);
    } catch (e) { flash(e.message); }
  }

  function updateSelection() {
    const n = selected().length;
    document.querySelectorAll("[data-selcount]").forEach((el) => { el.textContent = n; });
    document.querySelectorAll("[data-bulk-bar]").forEach((el) => el.classList.toggle("active", n > 0));
  }

  // Live regions: the page is fetched again and each [data-region] replaced, keeping the
  // analyst's selection (checked boxes), open details and what is being typed.
  let refreshing = false, again = false;
  async function refresh(force) {
    if (refreshing) { again = true; return; }
    const active = document.activeElement;
    if (!force && active && active.form && active.form.closest("[data-region]")) return;
    refreshing = true;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      if (res.redirected || !res.ok) { if (res.status === 401 || res.redirected) location.reload(); return; }
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const keep = new Set(Array.from(document.querySelectorAll("[data-region] input[type=checkbox]:checked")).map((i) => i.value));
      const open = new Set(Array.from(document.querySelectorAll("[data-region] details[open]")).map((d, i) => i));
      document.querySelectorAll("[data-region][id]").forEach((region) => {
        const fresh = doc.getElementById(region.id);
        if (fresh) region.replaceChildren(...Array.from(fresh.childNodes).map((n) => document.importNode(n, true)));
      });
      document.querySelectorAll("[data-region] input[type=checkbox]").forEach((i) => { if (keep.has(i.value)) i.checked = true; });
      document.querySelectorAll("[data-region] details").forEach((d, i) => { if (open.has(i)) d.open = true; });
      for (const id of ["alert-total"]) {
        const a = document.getElementById(id), b = doc.getElementById(id);
        if (a && b) a.textContent = b.textContent;
      }
      const poll = doc.body.dataset.poll;
      if (poll) document.body.dataset.poll = poll; else delete document.body.dataset.poll;
      updateSelection();
      document.dispatchEvent(new CustomEvent("console:refreshed"));
    } catch (e) {
      /* the next event tries again */
    } finally {
      refreshing = false;
      if (again) { again = false; setTimeout(() => refresh(false), 50); }
    }
  }

  function live() {
    const kinds = (document.body.dataset.live || "").split(",").filter(Boolean);
    if (kinds.length && window.EventSource) {
      const source = new EventSource("/api/v1/events");
      let timer = null;
      const onEvent = (ev) => {
        const type = (ev.type || "").split(".")[0].toLowerCase();
        if (!kinds.includes(type)) return;
        clearTimeout(timer);
        timer = setTimeout(() => refresh(false), 150);
      };
      const names = ["create", "update", "delete"];
      for (const k of kinds) for (const n of names) source.addEventListener(k + "." + n, onEvent);
      // Servers name events <objectType>.<action> with TheHive's casing.
      for (const k of ["Alert", "Case", "Task", "Log", "Observable", "Job", "Action", "Procedure", "Comment", "Page", "case_artifact", "case_task", "case_task_log", "case_artifact_job"])
        for (const n of names) source.addEventListener(k + "." + n, onEvent);
      source.onopen = () => document.body.classList.add("live");
      source.onerror = () => document.body.classList.remove("live");
    }
    const tick = () => {
      const ms = parseInt(document.body.dataset.poll || "0", 10);
      if (ms > 0) refresh(false).then(() => setTimeout(tick, ms));
      else setTimeout(tick, 1000);
    };
    setTimeout(tick, 1000);
  }

  function login() {
    const form = document.getElementById("login-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { user: form.user.value.trim(), password: form.password.value };
      if (form.code && form.code.value.trim()) body.code = form.code.value.trim();
      try {
        const res = await fetch(form.dataset.api || "/api/v1/login", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
        });
        if (res.status === 402) {
          form.querySelector(".code").hidden = false;
          form.code.focus();
          return flash("Enter the code of your authenticator app");
        }
        if (!res.ok) {
          const data = await res.json().catch(() => ({}));
          return flash(data.message || "Login failed");
        }
        document.cookie = "THEHIVE-ORGANISATION=; path=/; max-age=0; SameSite=Strict";
        location.href = form.dataset.next || "/alerts";
      } catch (e) { flash(e.message); }
    });
  }

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form.classList.contains("api")) { ev.preventDefault(); submitForm(form); }
  });
  document.addEventListener("click", (ev) => {
    const t = ev.target.closest("button, input[data-select-all]");
    if (!t) return;
    if (t.matches("input[data-select-all]")) {
      const name = t.dataset.selectAll;
      const scope = t.closest("table") || document;
      scope.querySelectorAll(name ? 'input[name="' + name + '"]' : "input.sel").forEach((i) => { i.checked = t.checked; });
      return updateSelection();
    }
    if (t.dataset.toggle) {
      const el = document.querySelector(t.dataset.toggle);
      if (el) el.hidden = !el.hidden;
      return;
    }
    if (t.classList.contains("add-row")) {
      const set = t.closest("fieldset[data-rows]");
      const row = set.querySelector("template").content.firstElementChild.cloneNode(true);
      set.insertBefore(row, t);
      const first = row.querySelector("input:not([type=checkbox]), select, textarea");
      if (first) first.focus();
      return;
    }
    if (t.classList.contains("remove-row")) { t.closest(".row-item").remove(); return; }
    if (t.dataset.action === "case-from-selection") return caseFromSelection();
    if ("runAll" in t.dataset) return runAll();
    if (t.dataset.url || t.dataset.each) { ev.preventDefault(); clickAction(t); }
  });
  document.addEventListener("change", (ev) => {
    if (ev.target.matches("input.sel")) updateSelection();
    if (ev.target.matches("select[data-url][data-field]")) {
      const sel = ev.target;
      api(sel.dataset.method || "PATCH", sel.dataset.url, { [sel.dataset.field]: sel.value })
        .then(() => flash("Saved", "ok"), (e) => flash(e.message));
    }
    if (ev.target.id === "org-switch") {
      document.cookie = "THEHIVE-ORGANISATION=" + encodeURIComponent(ev.target.value) + "; path=/; SameSite=Strict";
      location.href = "/alerts";
    }
  });
  document.addEventListener("DOMContentLoaded", () => { login(); live(); updateSelection(); });
})();
