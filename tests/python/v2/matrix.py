"""What both access-matrix tests share: the verdicts, the operations of an OpenAPI document,
and the check that every operation has a row and every cell holds."""

OK, DENY, UNAUTH = "ok", "deny", "unauth"


def operations(doc, rename=lambda path: path):
    """(method, path) of every operation of an OpenAPI document."""
    out = []
    for path, item in doc["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                out.append((method.upper(), rename(path)))
    return out


def verdict(status, ok_statuses, expected):
    """What a cell got, in the terms of its expectation: OK when expected and answered one of
    `ok_statuses`; UNAUTH for 401; DENY for 403 or 404; else the status itself."""
    if expected == OK:
        return OK if status in ok_statuses else f"status {status}"
    return UNAUTH if status == 401 else DENY if status in (403, 404) else f"status {status}"


def check_matrix(ops, rows, callers, call):
    """Every operation of `ops` has a row of `rows` and every row an operation; then every
    cell, reads first, holds. `call(method, path, row, who)` answers (response, url)."""
    missing = [op for op in ops if op not in rows]
    assert not missing, f"operations without a row in the access matrix: {missing}"
    stale = [op for op in rows if op not in ops]
    assert not stale, f"rows for operations the API does not have: {stale}"
    failures = []
    for (method, path), row in sorted(rows.items(), key=lambda kv: kv[0][0] != "GET"):
        for who in callers:
            expected = row.rule(who)
            r, url = call(method, path, row, who)
            if r.status_code >= 500 or verdict(r.status_code, row.ok, expected) != expected:
                failures.append(f"{method} {url} as {who}: expected {expected}, got {r.status_code} {r.text[:160]}")
    assert not failures, "\n".join(failures)
