"""What JSON Schema cannot say about clickcollect's requests, said to Schemathesis.

Everything the server checks that a schema can state is in openapi/openapi.json. These hooks
cover the few rules no schema keyword expresses, so generated requests are not refused for
them (positive_data_acceptance); every other value is sent as generated, and a value that is
invalid on purpose (negative testing) is left invalid:

- an Idempotency-Key is the client's promise that two requests are the same one: Schemathesis
  reuses generated values across different requests, so each valid key is made unique (in the
  auth provider, which also sends the bearer token, so the header edit does not disturb how
  Schemathesis tells positive cases from negative ones);
- a cursor is opaque, made only by the server: a made-up one is refused (422) by design;
  (a feed's `after` is not: any value of its pattern is a place in the change log);
- a feed's long poll (`wait`) may hold a request open for up to 30 s, beyond the run's request
  timeout: it is sent without one;
- one line per SKU (holds, orders, cart checks, snapshots): `uniqueItems` compares whole
  objects, not their `sku`;
- a store's lanes name each source once, and never the store itself;
- a stock alert watches at least one store or online: one with neither watches online;
- opening hours open before they close, in order, without overlap: no keyword compares values;
- a store's slot rules leave room for one slot between `from` and `to`, and rules of one
  fulfilment do not overlap on a day: kept to one rule per fulfilment, from 00:00 to 24:00
  when the generated span is too short;
- an email has at most 64 characters before its `@` (RFC 5321): the pattern cannot count
  across the dots of a dot-atom, so a longer one is cut to its first 64 (and no dot at the
  end).

The token comes from CC_TOKEN (an admin token).
"""
import os
import re
import uuid

import schemathesis

KEY = re.compile(r"^[!-~]{1,255}$")
# The document's email pattern (src/http/formats.rs, EMAIL).
EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


@schemathesis.auth()
class AdminToken:
    def get(self, case, context):
        return os.environ["CC_TOKEN"]

    def set(self, case, data, context):
        headers = case.headers if case.headers is not None else {}
        headers["Authorization"] = f"Bearer {data}"
        for name in list(headers):
            value = headers[name]
            if name.lower() == "idempotency-key" and isinstance(value, str) and KEY.match(value):
                headers[name] = str(uuid.uuid4())
        case.headers = headers


def _one_per_sku(items):
    seen, kept = set(), []
    for item in items:
        sku = item.get("sku") if isinstance(item, dict) else None
        if isinstance(sku, str):
            if sku in seen:
                continue
            seen.add(sku)
        kept.append(item)
    return kept


def _well_formed_interval(interval):
    return isinstance(interval, list) and len(interval) == 2 and all(isinstance(t, str) for t in interval)


def _ordered_hours(hours):
    fixed = {}
    for day, intervals in hours.items():
        if not isinstance(intervals, list) or not all(_well_formed_interval(i) for i in intervals):
            fixed[day] = intervals
            continue
        times = sorted({t for interval in intervals for t in interval})
        # Distinct times, sorted and paired: each opens before it closes, in order, no overlap.
        fixed[day] = [[times[i], times[i + 1]] for i in range(0, len(times) - 1, 2)]
    return fixed


def _minutes(clock):
    if clock == "24:00":
        return 24 * 60
    if isinstance(clock, str) and re.match(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", clock):
        return int(clock[:2]) * 60 + int(clock[3:])
    return None


def _workable_rules(rules):
    kept, kinds = [], set()
    for rule in rules:
        if not isinstance(rule, dict):
            kept.append(rule)
            continue
        kind = rule.get("fulfilment")
        if isinstance(kind, str):
            if kind in kinds:
                continue
            kinds.add(kind)
        start, end, length = _minutes(rule.get("from")), _minutes(rule.get("to")), rule.get("minutes")
        whole = isinstance(length, (int, float)) and not isinstance(length, bool)
        if start is not None and end is not None and whole and end - start < length:
            rule = dict(rule, **{"from": "00:00", "to": "24:00"})
        kept.append(rule)
    return kept


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.query and ("cursor" in case.query or "wait" in case.query):
        case.query = {k: v for k, v in case.query.items() if k not in ("cursor", "wait")}
    body = case.body
    if isinstance(body, dict):
        for field in ("lines", "items"):
            if isinstance(body.get(field), list):
                body[field] = _one_per_sku(body[field])
        email = body.get("email")
        # Only an address the pattern takes (a negative case stays as invalid as it was).
        if isinstance(email, str) and len(email) <= 254 and EMAIL.match(email):
            local, domain = email.split("@")
            if len(local) > 64:
                body["email"] = local[:64].rstrip(".") + "@" + domain
        if case.path.endswith("/stock-alerts") and "sku" in body:
            places = body.get("locations")
            if not (isinstance(places, list) and places) and body.get("online") is not True:
                body["online"] = True
        if isinstance(body.get("lanes"), list):
            itself = (case.path_parameters or {}).get("code")
            seen, lanes = set(), []
            for lane in body["lanes"]:
                source = lane.get("from") if isinstance(lane, dict) else None
                if isinstance(source, str):
                    if source in seen or source == itself:
                        continue
                    seen.add(source)
                lanes.append(lane)
            body["lanes"] = lanes
        if isinstance(body.get("rules"), list):
            body["rules"] = _workable_rules(body["rules"])
        if isinstance(body.get("opening_hours"), dict):
            body["opening_hours"] = _ordered_hours(body["opening_hours"])
