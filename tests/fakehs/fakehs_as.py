"""fakehs_as.py -- the Application Service side of fakehs.py (stdlib and
python3-yaml only): the homeserver pushing events to a registered bot, as
the spec's Application Service API has it
(../shared/spec/matrix/content/application-service-api.md).

A registration (the YAML `faqbot appservice-registration` writes) is loaded
with POST /_fake/appservice {registration: PATH}. From then on:
  - its as_token is a client token of its sender (@sender_localpart:server);
    with a user_id query parameter, of that user if a users namespace of the
    registration matches it, else 403 M_EXCLUSIVE (the spec's "Identity
    assertion");
  - a pusher thread sends every event the service is interested in (any
    event of a room where one of its users is joined, from that join on, and
    any m.room.member whose state_key is one of its users) in order, in
    transactions of at most 100 events with ids "1", "2", ..., as
    PUT {url}/_matrix/app/v1/transactions/{txnId} with Authorization: Bearer
    hs_token, retrying the same transaction (same id, same events: the
    spec's MUST) after a non-200, a reset or a timeout, backing off 50 ms
    doubling to 1 s, until it gets a 200. Nothing is pushed before the url
    is set (POST /_fake/appservice_url {id, url}: the bot's port is the
    kernel's choice, known once it listens).
Faults, one rule a push (POST /_fake/appservice_fault {id, rules: [{action,
count?}]}): "reset" (the request is sent, the connection closed without
reading the answer), "ack_lost" (the 200 is read and ignored: retried),
"duplicate" (after its 200 the same transaction is pushed once more),
"reorder" (the transaction is split in two, its second half pushed first
under the next id). POST /_fake/appservice_token {id, hs_token} changes the
hs_token pushed (a wrong one: every push refused, retried until it is right
again). GET /_fake/as_log?id= lists every push: {txn, status, events,
action, t}; status is the HTTP status or "reset" / "error".
"""

import bisect
import http.client
import json
import re
import threading
import time
import urllib.parse

import yaml

TXN_EVENTS_MAX = 100  # Synapse's limit on events a transaction


class AppService:
    def __init__(self, reg, server_name):
        self.id = str(reg["id"])
        self.as_token = str(reg["as_token"])
        self.hs_token = str(reg["hs_token"])
        self.sender = "@%s:%s" % (reg["sender_localpart"], server_name)
        ns = reg.get("namespaces") or {}
        self.user_res = [re.compile(n["regex"]) for n in (ns.get("users") or [])]
        self.url = None
        self.pos = 0  # events up to here are in a transaction
        self.next_txn = 1
        self.queue = []  # [(txn id, [events])] not acknowledged yet, in order
        self.faults = []
        self.log = []

    def is_ours(self, user):
        return user == self.sender or any(r.fullmatch(user or "") for r in self.user_res)


HS = None  # fakehs.Homeserver, set by install
SERVICES = {}  # id -> AppService
BY_TOKEN = {}  # as_token -> AppService


def install(hs):
    global HS
    HS = hs


def masquerade(tok, query):
    """The user a client call with tok acts as, or None for tok not an
    as_token; raises (status, errcode, error) for a user outside the
    service's namespaces."""
    svc = BY_TOKEN.get(tok)
    if svc is None:
        return None
    user = (query.get("user_id") or [None])[0]
    if user is None:
        return svc.sender
    if not svc.is_ours(user):
        raise PermissionError(user)
    return user


def interesting(svc, room, pos, ev):
    """Whether a homeserver pushes ev (at pos in room) to svc."""
    if ev["type"] == "m.room.member" and svc.is_ours(ev.get("state_key")):
        return True
    for user, (ms, at, _e) in room.membership.items():
        if ms == "join" and at <= pos and svc.is_ours(user):
            return True
    return False


def collect(svc):
    """New events for svc, in order (with HS.cond held): read from the
    homeserver's list of where each event landed, so 10,000 quiet rooms
    cost a push nothing."""
    evs = []
    for i in range(bisect.bisect_right(HS.touch_pos, svc.pos), len(HS.touch_pos)):
        pos, room = HS.touch_pos[i], HS.touch_room[i]
        at = bisect.bisect_left(room.positions, pos)
        if at < len(room.positions) and room.positions[at] == pos:
            ev = room.events[at][1]
            if interesting(svc, room, pos, ev):
                e = dict(ev)
                e.pop("unsigned", None)
                evs.append(e)
    return evs


def take_fault(svc):
    with HS.cond:
        for r in svc.faults:
            r["count"] = r.get("count", 1) - 1
            if r["count"] <= 0:
                svc.faults.remove(r)
            return r["action"]
    return None


def push(svc, txn, events, action):
    """One try; the status, or "reset" / "error"."""
    u = urllib.parse.urlsplit(svc.url)
    body = json.dumps({"events": events}).encode()
    path = "%s/_matrix/app/v1/transactions/%s" % (u.path.rstrip("/"), urllib.parse.quote(txn))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("PUT", path, body=body,
                     headers={"Authorization": "Bearer " + svc.hs_token,
                              "Content-Type": "application/json"})
        if action == "reset":
            conn.sock.close()
            return "reset"
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return "error"
    finally:
        conn.close()


def note(svc, txn, status, n, action):
    with HS.cond:
        svc.log.append({"txn": txn, "status": status, "events": n, "action": action,
                        "t": time.time()})
        HS.cond.notify_all()


def pusher(svc):
    wait = 0.05
    while True:
        with HS.cond:
            while True:
                if svc.url and not svc.queue:
                    evs = collect(svc)
                    svc.pos = HS.pos
                    for i in range(0, len(evs), TXN_EVENTS_MAX):
                        svc.queue.append((str(svc.next_txn), evs[i:i + TXN_EVENTS_MAX]))
                        svc.next_txn += 1
                if svc.url and svc.queue:
                    break
                HS.cond.wait(1)
            txn, events = svc.queue[0]
        action = take_fault(svc)
        if action == "reorder" and len(events) >= 2:
            half = len(events) // 2
            with HS.cond:
                later = (str(svc.next_txn), events[half:])
                svc.next_txn += 1
                svc.queue[0] = (txn, events[:half])
                svc.queue.insert(1, later)
                # the second half goes first, under its own id
                svc.queue[0], svc.queue[1] = svc.queue[1], svc.queue[0]
            continue
        status = push(svc, txn, events, action)
        note(svc, txn, status, len(events), action)
        if status == 200 and action != "ack_lost":
            if action == "duplicate":
                note(svc, txn, push(svc, txn, events, None), len(events), "duplicate")
            with HS.cond:
                svc.queue.pop(0)
            wait = 0.05
            continue
        time.sleep(wait)
        wait = min(wait * 2, 1.0)


def control(name, req, q):
    """A /_fake/ request of this side (with HS.cond held): (status, body),
    or None when the name is not this side's."""
    if name == "appservice":
        with open(req["registration"]) as f:
            reg = yaml.safe_load(f)
        svc = AppService(reg, HS.server_name)
        SERVICES[svc.id] = svc
        BY_TOKEN[svc.as_token] = svc
        HS.add_user(svc.sender)
        HS.tokens[svc.as_token] = {"user": svc.sender, "device": "AS-" + svc.id}
        threading.Thread(target=pusher, args=(svc,), daemon=True).start()
        return 200, {"id": svc.id, "user_id": svc.sender}
    if name == "appservice_url":
        SERVICES[req["id"]].url = req["url"]
        if req.get("from_now"):  # what came before is not pushed
            SERVICES[req["id"]].pos = HS.pos
        HS.cond.notify_all()
        return 200, {}
    if name == "appservice_fault":
        SERVICES[req["id"]].faults.extend(req.get("rules", []))
        return 200, {}
    if name == "appservice_token":
        SERVICES[req["id"]].hs_token = req["hs_token"]
        return 200, {}
    if name == "as_log":
        svc = SERVICES[q["id"]]
        return 200, {"pushes": list(svc.log), "pending": len(svc.queue)}
    return None
