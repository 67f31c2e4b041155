#!/usr/bin/env python3
"""fakehs.py -- a fake Matrix homeserver for faqbot's tests (stdlib only).

It speaks the subset of the Client-Server API a bot uses, with the request
and response shapes of ../shared/spec/matrix/ (login, whoami, filter, sync
with long-poll and the room filter's types for state and timeline, join,
leave, joined_members, a room's state by type and key, send with
transaction ids, versions) and the spec's error bodies ({errcode, error}, 401
M_UNKNOWN_TOKEN / M_MISSING_TOKEN, 403 M_FORBIDDEN, 404 M_NOT_FOUND /
M_UNRECOGNIZED, 429 M_LIMIT_EXCEEDED with a Retry-After header and
retry_after_ms).

Cross-signing (device_signing/upload with user-interactive auth,
signatures/upload, and /keys/query's cross-signing keys): fakehs_xsign.py.
End-to-end encryption's keys, as the spec's "Key management API" has them:
POST /keys/upload keeps a device's device_keys (user and device must be the
token's), its one-time keys (the same key id with another key is refused,
400 M_INVALID_PARAM, as Synapse does) and its fallback key (one an
algorithm), and answers one_time_key_counts; POST /keys/claim hands out
one one-time key a device, oldest first, else the fallback key (marked
used); POST /keys/query gives the device keys, and a device's new or changed
device keys put its user in the device_lists.changed of the next /sync of
every user sharing a room with it. Every /sync carries the
syncing device's device_one_time_keys_count (signed_curve25519, 0 too) and
device_unused_fallback_key_types, and a long poll ends when they change.

To-device messages, as the spec's "Send-to-Device messaging" has them:
PUT /sendToDevice/{type}/{txnId} {messages: {user: {device | "*": content}}}
(idempotent by transaction id, as a room send; "*" is every device the user
has a token or keys for) queues {type, sender, content} for each device;
each /sync of that device's token carries, in to_device.events, those
queued after its since, until a later since acknowledges them (so a sync
replayed from the same since gets them again), and a long poll ends when
one is queued.

Transaction ids are idempotent per access token by default (--txn-scope
device scopes them per device, as the spec says): the same PUT path with
the same txn id returns the first response and adds no second event.

A control API under /_fake/ (no auth) lets a test act as members and look
at the room as a member would:
  POST /_fake/user       {user_id, password?, displayname?, token?}
  POST /_fake/room       {room_id?, alias?, name?, creator, members: [..],
                          public?: bool, invite?: [..],
                          power_levels?: {content}}          -> {room_id}
  POST /_fake/state      {room_id, sender?, type, state_key?, content}
                                                              -> {event_id}
  POST /_fake/send       {room_id, sender, body? | content?, msgtype?,
                          type?, thread_root?, reply_to?}     -> {event_id}
  POST /_fake/send_raw   {room_id, sender, raw | raw_b64, event?: bool,
                          type?}                              -> {event_id}
        raw is JSON text (raw_b64 any bytes), kept verbatim and spliced into
        /sync as it is, so \u0000, a lone surrogate, 10000 nested arrays or
        bytes that are not UTF-8 reach the bot exactly as sent: the content
        of a message event, or with event: true the whole event (a string,
        a number...). Members see it in /_fake/events as a marker.
  POST /_fake/many       {requests: [{name, body}]}  several control requests
                          at once, under one lock: they land in one /sync
                          batch                                -> {results}
  POST /_fake/outage     {ms}  the server goes away: the listening socket
                          is closed (connections refused) and every open
                          connection cut, long polls too, for ms; then it
                          listens again on the same port with all its state
  GET  /_fake/status     {up_at: when it last began listening (s), outages}
  POST /_fake/invite     {room_id, sender, target, is_direct?}
  POST /_fake/membership {room_id, sender, target, membership,
                          displayname?, reason?}
  POST /_fake/script     {rules: [{path: regex, method?, action, count?,
                          retry_after_ms?, retry_after?, ms?, skip?}]}
        actions: 429, 500, 502, 503, drop, slow, malformed, hang, hold,
                 commit_then_500, commit_then_drop, garbage (on /sync),
                 commit_then_hold (on /keys/upload: kept, then held like
                 hold)
        garbage: a 200 whose body is not JSON, built around the batch that
        was due (the long poll waits as usual); style "tail" (default): the
        rooms, junk, then the real next_batch at the top level; "head": the
        next_batch first, then the body cut in the middle; "none": no
        next_batch at all (a proxy's page). With when: TEXT, a garbage rule
        is not taken when a request arrives but when a /sync answer holds
        TEXT (then count times), whatever the timing of the long polls
        skip: let the first N matching requests through before acting;
        hold: keep the request waiting until /_fake/release (or ms), then
        drop it
  POST /_fake/release    end every held request
  POST /_fake/script_clear
  POST /_fake/revoke_token {token? | user_id?}
  GET  /_fake/events?room_id=&after=N   the room timeline, as a member sees it
  GET  /_fake/wait?room_id=&sender=&count=&timeout_ms=
  GET  /_fake/log?after=N               every request received (secrets hidden)
  POST /_fake/claim      {user_id, device_id, count, algorithm?}  count
                          keys of the device claimed at once, as members'
                          clients would one by one     -> {claimed}
  GET  /_fake/keys?user_id=    a user's devices' keys as the server holds
                          them: {devices: {ID: {device_keys, otk_ids,
                          fallback: {id, key, used}, uploads: [bodies]}}}
  POST /_fake/delete_device {user_id, device_id}  the device signed out:
                          its keys and tokens gone, its user in the
                          device_lists.changed of the next /sync of
                          every user sharing a room with it
  POST /_fake/lose_keys  {user_id, device_id, fallback?, omit_zero?}  the
                          server loses the device's one-time keys (and its
                          fallback key too with fallback: true); with
                          omit_zero: true its /sync then leaves a count
                          of 0 out, as the spec allows     -> {lost}
  POST /_fake/to_device  {sender, type, messages}  a to-device message sent
                          as sender (no token needed)            -> {}
  GET  /_fake/to_device?user_id=   the to-device messages queued for the
                          user's devices and not acknowledged yet: {events}
  POST /_fake/shutdown
  and the Application Service side (fakehs_as.py: registrations, the
  pusher of transactions and its faults): /_fake/appservice,
  /_fake/appservice_url, /_fake/appservice_fault, /_fake/appservice_token,
  GET /_fake/as_log. GET /_matrix/client/v3/joined_rooms answers the rooms
  the token's user is joined to.

It only ever binds to 127.0.0.1 and exits by itself after --max-seconds.
Usage: fakehs.py [--port 0] [--port-file F] [--max-seconds 300]
                 [--server-name fake.test] [--user @bot:fake.test=secret]
                 [--token TOKEN=@bot:fake.test] [--txn-scope token|device]
With --port 0 it prints "port N" on standard output once it listens.
"""

import argparse
import base64
import gc
import bisect
import http.server
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse

import fakehs_as
import fakehs_xsign

API = "/_matrix/client/v3"


class MatrixError(Exception):
    def __init__(self, status, errcode, error, headers=None, extra=None):
        super().__init__(error)
        self.status, self.errcode, self.error = status, errcode, error
        self.headers = headers or {}
        self.extra = extra or {}


def now_ms():
    return int(time.time() * 1000)


def new_id(sigil, server=None, n=18):
    raw = base64.urlsafe_b64encode(secrets.token_bytes(n)).decode().rstrip("=")
    return sigil + raw + (":" + server if server else "")


class Room:
    def __init__(self, room_id, name, public, idx=0):
        self.room_id, self.name, self.public = room_id, name, public
        self.idx = idx  # its place among the rooms, for a sync's order
        self.events = []  # (pos, event) in order
        self.positions = []  # pos of each event, for bisect
        self.membership = {}  # user -> (membership, pos, event)
        self.names = {}  # user -> display name
        self.state = {}  # (type, state_key) -> event, member events aside


class Keys:
    """What the server holds of one device's encryption keys."""

    def __init__(self):
        self.device_keys = None
        self.otks = {}  # "algo:id" -> key object, in upload order
        self.fallback = {}  # algo -> {"id", "obj", "used"}
        self.uploads = []  # every /keys/upload body, as received
        self.omit_zero = False

    def counts(self):
        c = {"signed_curve25519": 0}
        for name in self.otks:
            algo = name.split(":", 1)[0]
            c[algo] = c.get(algo, 0) + 1
        return c

    def unused_fallback(self):
        return sorted(a for a, f in self.fallback.items() if not f["used"])

    def sync_counts(self):
        # omit_zero (/_fake/lose_keys): a count of 0 left out, as the spec
        # allows and Synapse did
        c = self.counts()
        return {a: n for a, n in c.items() if n} if self.omit_zero else c


class Homeserver:
    def __init__(self, server_name, txn_scope):
        self.server_name = server_name
        self.txn_scope = txn_scope
        self.cond = threading.Condition()
        self.pos = 0
        self.users = {}  # user -> {"password", "displayname"}
        self.tokens = {}  # token -> {"user", "device"}
        self.rooms = {}
        self.aliases = {}
        self.filters = {}  # (user, id) -> filter
        self.txns = {}  # (scope, path) -> (status, body)
        self.rules = []
        self.log = []
        self.release_gen = 0  # bumped by /_fake/release: held requests end
        self.raws = {}  # id -> bytes spliced into /sync (/_fake/send_raw)
        self.conns = set()  # open client connections, cut by an outage
        self.outage_gen = 0  # bumped when an outage begins: long polls end
        self.outage_ms = None  # an outage asked for, not begun yet
        self.outages = 0
        self.up_at = time.time()
        self.devkeys = {}  # (user, device) -> Keys
        self.keys_sent = {}  # token -> the key counts its last /sync carried
        self.todev = []  # (pos, user, device, event): to-device messages
        self.dl_changes = []  # (pos, user): a user's device keys changed
        # where each event landed, in order: an incremental /sync looks only
        # at the rooms touched after its since, so 10,000 quiet rooms cost
        # a long poll nothing each time it wakes
        self.touch_pos = []
        self.touch_room = []

    # -- state changes (called with self.cond held) --------------------------
    def add_user(self, user, password=None, displayname=None):
        u = self.users.setdefault(user, {"password": None, "displayname": None})
        if password is not None:
            u["password"] = password
        if displayname is not None:
            u["displayname"] = displayname
        return u

    def add_event(self, room, ev):
        self.pos += 1
        ev.setdefault("event_id", new_id("$"))
        ev.setdefault("origin_server_ts", now_ms())
        ev["room_id"] = room.room_id
        room.events.append((self.pos, ev))
        room.positions.append(self.pos)
        self.touch_pos.append(self.pos)
        self.touch_room.append(room)
        if ev["type"] == "m.room.member":
            target = ev["state_key"]
            ms = ev["content"].get("membership")
            room.membership[target] = (ms, self.pos, ev)
            dn = ev["content"].get("displayname")
            if ms == "join" and dn:
                room.names[target] = dn
        elif "state_key" in ev:
            room.state[(ev["type"], ev["state_key"])] = ev
        self.cond.notify_all()
        return ev

    def member_event(self, room, sender, target, membership, **extra):
        content = {"membership": membership}
        dn = extra.pop("displayname", None)
        if dn is None and membership == "join":
            dn = self.users.get(target, {}).get("displayname")
        if dn:
            content["displayname"] = dn
        content.update({k: v for k, v in extra.items() if v is not None})
        return self.add_event(room, {"type": "m.room.member", "state_key": target,
                                     "sender": sender, "content": content})

    def membership_of(self, room, user):
        m = room.membership.get(user)
        return m[0] if m else None

    def joined(self, room):
        return [u for u, m in room.membership.items() if m[0] == "join"]

    def keys_of(self, user, device):
        return self.devkeys.setdefault((user, device), Keys())

    def devices_of(self, user):
        devs = {v["device"] for v in self.tokens.values() if v["user"] == user}
        devs |= {d for (u, d) in self.devkeys if u == user}
        return sorted(devs)

    def to_device(self, sender, etype, messages):
        for user, devs in (messages or {}).items():
            if not isinstance(devs, dict):
                continue
            for dev, content in devs.items():
                for d in (self.devices_of(user) if dev == "*" else [dev]):
                    self.pos += 1
                    self.todev.append((self.pos, user, d, {"type": etype, "sender": sender,
                                                           "content": content}))
        self.cond.notify_all()

    def to_device_for(self, user, device, since):
        # acknowledged: what a since at or past it has seen goes
        if since is not None:
            self.todev = [t for t in self.todev
                          if not (t[1] == user and t[2] == device and t[0] <= since)]
        return [t[3] for t in self.todev if t[1] == user and t[2] == device]

    # -- sync ----------------------------------------------------------------
    def sync(self, user, since, flt):
        tl_filter = (flt.get("room") or {}).get("timeline") or {}
        limit = tl_filter.get("limit", 10)
        if not isinstance(limit, int) or limit < 1:
            limit = 10
        st_filter = (flt.get("room") or {}).get("state") or {}

        def wanted(ev, f=tl_filter):
            types, not_types = f.get("types"), f.get("not_types") or []
            if types is not None and not any(type_match(t, ev["type"]) for t in types):
                return False
            return not any(type_match(t, ev["type"]) for t in not_types)

        out = {"join": {}, "invite": {}, "leave": {}}
        if since is None:
            rooms = self.rooms.values()
        else:  # only rooms with an event after since can have news
            at = bisect.bisect_right(self.touch_pos, since)
            rooms = sorted(set(self.touch_room[at:]), key=lambda r: r.idx)
        for room in rooms:
            m = room.membership.get(user)
            if not m:
                continue
            ms, mpos, mev = m
            if ms == "join":
                start = bisect.bisect_right(room.positions, since or 0)
                # only what happened since the user joined
                join_idx = bisect.bisect_left(room.positions, mpos)
                start = max(start, join_idx)
                evs = [e for p, e in room.events[start:] if wanted(e)]
                if since is not None and not evs:
                    continue
                limited = len(evs) > limit
                evs = evs[-limit:]
                r = {"timeline": {"events": [strip_room(e) for e in evs],
                                  "limited": limited,
                                  "prev_batch": "p%d" % (self.pos)}}
                joined_after = since is None or mpos > since
                members_changed = any(e["type"] == "m.room.member" for e in evs)
                if joined_after:
                    st = [x[2] for x in room.membership.values()] + list(room.state.values())
                    r["state"] = {"events": [strip_room(e) for e in st
                                             if e not in evs and wanted(e, st_filter)]}
                if joined_after or members_changed:
                    r["summary"] = {"m.joined_member_count": len(self.joined(room)),
                                    "m.invited_member_count": sum(
                                        1 for x in room.membership.values() if x[0] == "invite")}
                out["join"][room.room_id] = r
            elif ms == "invite" and (since is None or mpos > since):
                st = [{"type": "m.room.member", "state_key": user, "sender": mev["sender"],
                       "content": mev["content"]}]
                if room.name:
                    st.insert(0, {"type": "m.room.name", "state_key": "",
                                  "sender": mev["sender"], "content": {"name": room.name}})
                out["invite"][room.room_id] = {"invite_state": {"events": st}}
            elif ms in ("leave", "ban") and since is not None and mpos > since:
                out["leave"][room.room_id] = {"timeline": {"events": [strip_room(mev)],
                                                           "limited": False}}
        body = {"next_batch": "s%d" % self.pos}
        rooms = {k: v for k, v in out.items() if v}
        if rooms:
            body["rooms"] = rooms
        changed = self.device_changes(user, since)
        if changed:
            body["device_lists"] = {"changed": changed, "left": []}
        return body, bool(rooms) or bool(changed)

    def device_changes(self, user, since):
        """The users sharing a room with user whose device keys changed
        after since (an initial sync has none, as the spec says)."""
        if since is None:
            return []
        users = sorted({u for p, u in self.dl_changes if p > since})
        if not users:
            return []
        mine = [r for r in self.rooms.values() if self.membership_of(r, user) == "join"]
        return [u for u in users
                if any(self.membership_of(r, u) == "join" for r in mine)]


def claim_one(user, device, algo):
    """A one-time key of the device, oldest first, else its fallback key
    (then marked used), as (name, key object); None. With HS.cond held."""
    keys = HS.devkeys.get((user, device))
    if keys is None:
        return None
    for name in keys.otks:
        if name.split(":", 1)[0] == algo:
            return name, keys.otks.pop(name)
    if algo in keys.fallback:
        f = keys.fallback[algo]
        f["used"] = True
        return algo + ":" + f["id"], f["obj"]
    return None


def type_match(pattern, t):
    if pattern.endswith("*"):
        return t.startswith(pattern[:-1])
    return pattern == t


RAW_MARK = "@@fakehs-raw-%d@@"
RAW_RE = re.compile(rb'"@@fakehs-raw-(\d+)@@"')


def strip_room(ev):
    if "_raw" in ev:  # a raw event: a marker, spliced by sync_bytes
        return RAW_MARK % ev["_raw"]
    e = dict(ev)
    e.pop("room_id", None)
    return e


def sync_bytes(body):
    """A /sync body as bytes, raw events and contents spliced in."""
    data = json.dumps(body).encode()
    return RAW_RE.sub(lambda m: HS.raws[int(m.group(1))], data)


def garbage(body, style):
    """A body that is not JSON, around the batch that was due."""
    nb = body["next_batch"].encode()
    rooms = sync_bytes(body.get("rooms", {}))
    if style == "none":
        return b"<html><body>502 Bad Gateway, sent as a 200</body></html>"
    if style == "head":
        return b'{"next_batch": "' + nb + b'", "rooms": ' + rooms[:max(1, len(rooms) // 2)]
    return (b'{"rooms": ' + rooms + b', "junk": [1,, 2] \xff\x00 not json, "next_batch": "'
            + nb + b'"}')


HS = None  # the Homeserver
ARGS = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakehs/1"

    def log_message(self, fmt, *args):  # quiet: the log is /_fake/log
        pass

    def setup(self):
        super().setup()
        with HS.cond:
            HS.conns.add(self.connection)
        # headers and body go out in two writes: without this, Nagle and
        # delayed ACKs add 40 ms to every exchange
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self):
        with HS.cond:
            HS.conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # -- plumbing ------------------------------------------------------------
    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_OPTIONS(self):
        self.reply(200, {})

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 1 << 20:
            raise MatrixError(413, "M_TOO_LARGE", "request too large")
        return self.rfile.read(n) if n else b""

    def reply(self, status, body, headers=None, raw=None):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.status_sent = status

    def drop(self):
        self.close_connection = True
        self.status_sent = "drop"
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def token(self, query):
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            return auth[7:].strip()
        return (query.get("access_token") or [None])[0]

    def auth(self, query):
        tok = self.token(query)
        if not tok:
            raise MatrixError(401, "M_MISSING_TOKEN", "Missing access token")
        with HS.cond:
            t = HS.tokens.get(tok)
        if not t:
            raise MatrixError(401, "M_UNKNOWN_TOKEN", "Unknown access token",
                              extra={"soft_logout": False})
        try:  # an application service's token acts as its user, or user_id
            as_user = fakehs_as.masquerade(tok, query)
        except PermissionError:
            raise MatrixError(403, "M_EXCLUSIVE", "user_id is not in the service's namespaces")
        if as_user is not None:
            t = {"user": as_user, "device": t["device"]}
        return tok, t

    def handle_any(self, method):
        self.status_sent = None
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query)
        body = b""
        entry = {"method": method, "path": path,
                 "query": {k: v for k, v in query.items() if k != "access_token"},
                 "t": time.time()}
        with HS.cond:  # logged on arrival, so a test sees a long poll begin
            entry["n"] = len(HS.log)
            HS.log.append(entry)
        self.log_entry = entry
        try:
            body = self.read_body()
            entry["body"] = redact(body)
            tok = self.token(query)
            entry["token"] = tok[-6:] if tok else None
            action = None if path.startswith("/_fake/") else self.take_rule(method, path)
            entry["action"] = action and action["action"]
            if action and self.pre_action(action):
                pass
            elif path.startswith("/_fake/"):
                self.control(method, path, query, body)
            else:
                self.matrix(method, path, query, body, action)
        except MatrixError as e:
            b = {"errcode": e.errcode, "error": e.error}
            b.update(e.extra)
            self.reply(e.status, b, e.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a bug here must not look like a bot bug
            print("fakehs: internal error on %s %s: %r" % (method, path, e), file=sys.stderr)
            self.reply(500, {"errcode": "M_UNKNOWN", "error": "fakehs internal error"})
        entry["status"] = self.status_sent

    def take_rule(self, method, path):
        with HS.cond:
            for r in HS.rules:
                if r.get("method") and r["method"] != method:
                    continue
                if "when" in r:  # taken by what the answer holds
                    continue
                if not re.search(r["path"], path):
                    continue
                if r.get("skip", 0) > 0:  # let the first `skip` matches through
                    r["skip"] -= 1
                    continue
                r["count"] = r.get("count", 1) - 1
                if r["count"] <= 0:
                    HS.rules.remove(r)
                return dict(r)
        return None

    def take_when_rule(self, path, data):
        """The first rule with `when` that data holds, taken (with HS.cond)."""
        for r in HS.rules:
            if "when" in r and re.search(r["path"], path) and r["when"].encode() in data:
                r["count"] = r.get("count", 1) - 1
                if r["count"] <= 0:
                    HS.rules.remove(r)
                return dict(r)
        return None

    def pre_action(self, a):
        """Act out a scripted fault. True if the request is fully handled."""
        kind = str(a["action"])
        if kind == "429":
            h = {}
            if "retry_after" in a:
                h["Retry-After"] = str(a["retry_after"])
            b = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests"}
            if "retry_after_ms" in a:
                b["retry_after_ms"] = a["retry_after_ms"]
            self.reply(429, b, h)
            return True
        if kind in ("500", "502", "503"):
            self.reply(int(kind), None, raw=b"<html>server error</html>")
            return True
        if kind == "drop":
            self.drop()
            return True
        if kind == "hang":
            time.sleep(a.get("ms", 60000) / 1000)
            self.drop()
            return True
        if kind == "hold":
            # a request held until /_fake/release (or `ms`), then dropped: a
            # test kills the bot while it waits here, at a point it chose
            deadline = time.time() + a.get("ms", 60000) / 1000
            with HS.cond:
                gen = HS.release_gen
                while HS.release_gen == gen and time.time() < deadline:
                    HS.cond.wait(deadline - time.time())
            self.drop()
            return True
        if kind == "slow":
            time.sleep(a.get("ms", 1000) / 1000)
            return False
        if kind == "malformed":
            self.reply(200, None, raw=b'{"next_batch": "s1", "rooms": {"join": {')
            return True
        return False  # commit_then_* act after the request is handled

    # -- the Client-Server API ----------------------------------------------
    def matrix(self, method, path, query, body, action):
        if path == "/_matrix/client/versions":
            return self.reply(200, {"versions": ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5",
                                                 "v1.6", "v1.7", "v1.8", "v1.9", "v1.10",
                                                 "v1.11"], "unstable_features": {}})
        if not path.startswith(API + "/"):
            raise MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request")
        parts = [urllib.parse.unquote(p) for p in path[len(API) + 1:].split("/")]
        req = parse_json(body) if method in ("POST", "PUT") else None

        if parts == ["login"]:
            if method == "GET":
                return self.reply(200, {"flows": [{"type": "m.login.password"}]})
            return self.login(req)
        tok, who = self.auth(query)
        user = who["user"]
        if parts == ["account", "whoami"] and method == "GET":
            return self.reply(200, {"user_id": user, "device_id": who["device"],
                                    "is_guest": False})
        if parts == ["logout"] and method == "POST":
            with HS.cond:
                HS.tokens.pop(tok, None)
            return self.reply(200, {})
        if len(parts) == 3 and parts[0] == "user" and parts[2] == "filter" and method == "POST":
            if parts[1] != user:
                raise MatrixError(403, "M_FORBIDDEN", "Cannot create filters for other users")
            if not isinstance(req, dict):
                raise MatrixError(400, "M_BAD_JSON", "Filter must be an object")
            with HS.cond:
                fid = str(len(HS.filters) + 1)
                HS.filters[(user, fid)] = req
            return self.reply(200, {"filter_id": fid})
        if parts == ["sync"] and method == "GET":
            return self.sync(user, query, action, tok, who["device"])
        if parts == ["keys", "upload"] and method == "POST":
            return self.keys_upload(who, req, action)
        if parts == ["keys", "claim"] and method == "POST":
            return self.keys_claim(req)
        if parts == ["keys", "query"] and method == "POST":
            return self.keys_query(who, req)
        got = fakehs_xsign.handle(who, parts, method, req)
        if got is not None:
            return self.reply(*got)
        if parts == ["joined_rooms"] and method == "GET":
            with HS.cond:
                ids = [r.room_id for r in HS.rooms.values() if HS.membership_of(r, user) == "join"]
            return self.reply(200, {"joined_rooms": ids})
        if len(parts) == 3 and parts[0] == "sendToDevice" and method == "PUT":
            return self.send_to_device(tok, who, parts[1], path, req)
        if parts[0] == "join" and len(parts) == 2 and method == "POST":
            return self.join(user, parts[1])
        if parts[0] == "rooms" and len(parts) >= 3:
            room_id = parts[1]
            with HS.cond:
                room = HS.rooms.get(room_id)
            if parts[2] == "join" and method == "POST":
                return self.join(user, room_id)
            if room is None:
                raise MatrixError(404, "M_NOT_FOUND", "Unknown room")
            if parts[2] == "leave" and method == "POST":
                with HS.cond:
                    if HS.membership_of(room, user) in ("join", "invite"):
                        HS.member_event(room, user, user, "leave")
                return self.reply(200, {})
            if parts[2] == "joined_members" and method == "GET":
                with HS.cond:
                    if HS.membership_of(room, user) != "join":
                        raise MatrixError(403, "M_FORBIDDEN", "You are not in this room")
                    j = {u: {"display_name": room.names.get(u)} for u in HS.joined(room)}
                return self.reply(200, {"joined": j})
            if parts[2] == "state" and len(parts) in (4, 5) and method == "GET":
                key = (parts[3], parts[4] if len(parts) == 5 else "")
                with HS.cond:
                    if HS.membership_of(room, user) != "join":
                        raise MatrixError(403, "M_FORBIDDEN", "You are not in this room")
                    ev = room.state.get(key)
                    if ev is None:
                        raise MatrixError(404, "M_NOT_FOUND", "Event not found.")
                    content = ev["content"]
                return self.reply(200, content)
            if parts[2] == "send" and len(parts) == 5 and method == "PUT":
                return self.send(tok, who, room, parts[3], parts[4], req, path, action)
        raise MatrixError(404, "M_UNRECOGNIZED", "Unrecognized request")

    def login(self, req):
        if not isinstance(req, dict) or req.get("type") != "m.login.password":
            raise MatrixError(400, "M_UNKNOWN", "Unknown login type")
        ident = req.get("identifier") or {}
        name = ident.get("user") if ident.get("type") == "m.id.user" else req.get("user")
        if not isinstance(name, str):
            raise MatrixError(400, "M_INVALID_PARAM", "Missing user")
        user = name if name.startswith("@") else "@%s:%s" % (name, HS.server_name)
        with HS.cond:
            u = HS.users.get(user)
            if not u or u["password"] is None or u["password"] != req.get("password"):
                raise MatrixError(403, "M_FORBIDDEN", "Invalid username or password")
            dev = req.get("device_id") or new_id("", n=6).upper()
            tok = "syt_" + secrets.token_urlsafe(24)
            HS.tokens[tok] = {"user": user, "device": dev}
        return self.reply(200, {"user_id": user, "access_token": tok, "device_id": dev,
                                "home_server": HS.server_name})

    def sync(self, user, query, action=None, tok=None, device=None):
        since_s = (query.get("since") or [None])[0]
        since = None
        if since_s is not None:
            if not re.fullmatch(r"s\d+", since_s):
                raise MatrixError(400, "M_INVALID_PARAM", "Bad since token")
            since = int(since_s[1:])
        try:
            timeout = int((query.get("timeout") or ["0"])[0])
        except ValueError:
            raise MatrixError(400, "M_INVALID_PARAM", "Bad timeout")
        flt = {}
        f = (query.get("filter") or [None])[0]
        if f:
            if f.startswith("{"):
                flt = parse_json(f.encode())
            else:
                with HS.cond:
                    flt = HS.filters.get((user, f))
                if flt is None:
                    raise MatrixError(400, "M_INVALID_PARAM", "Unknown filter")
        deadline = time.time() + min(max(timeout, 0), 120000) / 1000
        with HS.cond:
            gen = HS.outage_gen
            while True:
                body, any_ = HS.sync(user, since, flt)
                td = HS.to_device_for(user, device, since)
                if td:
                    body["to_device"] = {"events": td}
                    any_ = True
                keys = HS.keys_of(user, device)
                body["device_one_time_keys_count"] = keys.sync_counts()
                body["device_unused_fallback_key_types"] = keys.unused_fallback()
                state = json.dumps([body["device_one_time_keys_count"],
                                    body["device_unused_fallback_key_types"]])
                # the device's key counts changed since its last sync: news
                any_ = any_ or HS.keys_sent.get(tok, state) != state
                left = deadline - time.time()
                if any_ or since is None or left <= 0:
                    HS.keys_sent[tok] = state
                    break
                HS.cond.wait(left)
                if HS.outage_gen != gen:
                    return self.drop()
        data = sync_bytes(body)  # outside the lock, as the reply was
        if any("when" in r for r in HS.rules):
            with HS.cond:
                action = self.take_when_rule(self.path.split("?")[0], data) or action
                self.log_entry["action"] = self.log_entry.get("action") or (
                    action and action["action"])
        if action and str(action["action"]) == "garbage":
            data = garbage(body, action.get("style", "tail"))
        self.reply(200, None, raw=data)

    def keys_upload(self, who, req, action=None):
        if not isinstance(req, dict):
            raise MatrixError(400, "M_BAD_JSON", "Body must be an object")
        user, device = who["user"], who["device"]
        with HS.cond:
            keys = HS.keys_of(user, device)
            dk = req.get("device_keys")
            changed = dk is not None and dk != keys.device_keys
            if dk is not None:
                if (not isinstance(dk, dict) or dk.get("user_id") != user
                        or dk.get("device_id") != device):
                    raise MatrixError(400, "M_INVALID_PARAM",
                                      "device_keys are not this user's and device's")
            otks = req.get("one_time_keys") or {}
            for name, obj in otks.items():
                old = keys.otks.get(name)
                if old is not None and old != obj:
                    raise MatrixError(400, "M_INVALID_PARAM",
                                      "One time key %s already exists" % name)
            keys.uploads.append(req)
            if dk is not None:
                keys.device_keys = dk
            if changed:  # news for every user sharing a room with it
                self.pos_bump_changed(user)
            for name, obj in otks.items():
                keys.otks.setdefault(name, obj)
            for name, obj in (req.get("fallback_keys") or {}).items():
                algo, _, kid = name.partition(":")
                old = keys.fallback.get(algo)
                same = old and old["id"] == kid and old["obj"] == obj
                keys.fallback[algo] = {"id": kid, "obj": obj,
                                       "used": bool(same and old["used"])}
            counts = keys.counts()
            HS.cond.notify_all()
        kind = action and str(action["action"])
        if kind == "commit_then_drop":
            return self.drop()
        if kind == "commit_then_hold":
            # kept, and the answer held until /_fake/release (or ms): a test
            # kills the bot between the server taking its keys and the bot
            # hearing so
            deadline = time.time() + action.get("ms", 60000) / 1000
            with HS.cond:
                gen = HS.release_gen
                while HS.release_gen == gen and time.time() < deadline:
                    HS.cond.wait(deadline - time.time())
            return self.drop()
        self.reply(200, {"one_time_key_counts": counts})

    def pos_bump_changed(self, user):
        HS.pos += 1
        HS.dl_changes.append((HS.pos, user))
        HS.cond.notify_all()

    def keys_claim(self, req):
        out = {}
        with HS.cond:
            for user, devs in ((req or {}).get("one_time_keys") or {}).items():
                for device, algo in devs.items():
                    got = claim_one(user, device, algo)
                    if got:
                        out.setdefault(user, {})[device] = {got[0]: got[1]}
            HS.cond.notify_all()
        self.reply(200, {"one_time_keys": out, "failures": {}})

    def keys_query(self, who, req):
        out = {}
        with HS.cond:
            for user, devs in ((req or {}).get("device_keys") or {}).items():
                for (u, device), keys in HS.devkeys.items():
                    if u == user and keys.device_keys and (not devs or device in devs):
                        out.setdefault(user, {})[device] = keys.device_keys
            xs = fakehs_xsign.query_extra(who["user"],
                                          list(((req or {}).get("device_keys") or {})))
        self.reply(200, dict({"device_keys": out, "failures": {}}, **xs))

    def send_to_device(self, tok, who, etype, path, req):
        if not isinstance(req, dict) or not isinstance(req.get("messages"), dict):
            raise MatrixError(400, "M_BAD_JSON", "messages must be an object")
        key = (tok, path)
        with HS.cond:
            if key not in HS.txns:
                HS.to_device(who["user"], etype, req["messages"])
                HS.txns[key] = (200, {})
        self.reply(200, {})

    def join(self, user, target):
        with HS.cond:
            room_id = HS.aliases.get(target, target)
            room = HS.rooms.get(room_id)
            if room is None:
                raise MatrixError(404, "M_NOT_FOUND", "No such room")
            ms = HS.membership_of(room, user)
            if ms == "ban":
                raise MatrixError(403, "M_FORBIDDEN", "You are banned from this room")
            if ms != "join":
                if ms != "invite" and not room.public:
                    raise MatrixError(403, "M_FORBIDDEN", "You are not invited to this room")
                HS.member_event(room, user, user, "join")
        self.reply(200, {"room_id": room_id})

    def send(self, tok, who, room, etype, txn, content, path, action):
        scope = who["user"] + "|" + who["device"] if HS.txn_scope == "device" else tok
        key = (scope, path)
        with HS.cond:
            prev = HS.txns.get(key)
            if prev is None:
                if HS.membership_of(room, who["user"]) != "join":
                    raise MatrixError(403, "M_FORBIDDEN", "You are not in this room")
                if not isinstance(content, dict):
                    raise MatrixError(400, "M_BAD_JSON", "Content must be an object")
                ev = HS.add_event(room, {"type": etype, "sender": who["user"],
                                         "content": content,
                                         "unsigned": {"transaction_id": txn}})
                prev = (200, {"event_id": ev["event_id"]})
                HS.txns[key] = prev
        kind = action and str(action["action"])
        if kind == "commit_then_500":
            return self.reply(500, None, raw=b"<html>oops</html>")
        if kind == "commit_then_drop":
            return self.drop()
        self.reply(prev[0], prev[1])

    # -- the control API -----------------------------------------------------
    def control(self, method, path, query, body):
        req = parse_json(body) if method == "POST" else {}
        q = {k: v[0] for k, v in query.items()}
        name = path[len("/_fake/"):]
        if name == "outage":
            # answer first: the cut that follows must not take this reply
            with HS.cond:
                HS.outage_ms = int(req.get("ms", 1000))
            self.reply(200, {})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return None
        if name == "many":
            results, real = [], self.reply
            self.reply = lambda status, b, headers=None, raw=None: results.append(b)
            try:
                with HS.cond:
                    for sub in req.get("requests", []):
                        self.control_locked(sub["name"], sub.get("body") or {}, {})
            finally:
                self.reply = real
            return self.reply(200, {"results": results})
        with HS.cond:
            return self.control_locked(name, req, q)

    def control_locked(self, name, req, q):
        got = fakehs_as.control(name, req, q)
        if got is not None:
            return self.reply(*got)
        got = fakehs_xsign.control(name, req, q)
        if got is not None:
            return self.reply(*got)
        if name == "user":
            HS.add_user(req["user_id"], req.get("password"), req.get("displayname"))
            if req.get("token"):
                HS.tokens[req["token"]] = {"user": req["user_id"],
                                           "device": req.get("device_id", "FAKEDEV")}
            return self.reply(200, {})
        if name == "room":
            room_id = req.get("room_id") or new_id("!", HS.server_name)
            room = Room(room_id, req.get("name"), bool(req.get("public")), len(HS.rooms))
            HS.rooms[room_id] = room
            if req.get("alias"):
                HS.aliases[req["alias"]] = room_id
            creator = req.get("creator") or "@admin:" + HS.server_name
            HS.add_user(creator)
            HS.add_event(room, {"type": "m.room.create", "state_key": "", "sender": creator,
                                "content": {"room_version": "11"}})
            for u in [creator] + [m for m in req.get("members", []) if m != creator]:
                HS.add_user(u)
                HS.member_event(room, u, u, "join")
                if u == creator and isinstance(req.get("power_levels"), dict):
                    HS.add_event(room, {"type": "m.room.power_levels", "state_key": "",
                                        "sender": creator,
                                        "content": req["power_levels"]})
            for u in req.get("invite", []):
                HS.member_event(room, creator, u, "invite")
            return self.reply(200, {"room_id": room_id})
        if name == "send":
            room = self.room(req["room_id"])
            content = req.get("content")
            if content is None:
                content = {"msgtype": req.get("msgtype", "m.text"), "body": req["body"]}
                if req.get("formatted_body"):
                    content["format"] = "org.matrix.custom.html"
                    content["formatted_body"] = req["formatted_body"]
                rel = {}
                if req.get("thread_root"):
                    rel = {"rel_type": "m.thread", "event_id": req["thread_root"],
                           "is_falling_back": not req.get("reply_to")}
                    rel["m.in_reply_to"] = {"event_id": req.get("reply_to") or req["thread_root"]}
                elif req.get("reply_to"):
                    rel = {"m.in_reply_to": {"event_id": req["reply_to"]}}
                if rel:
                    content["m.relates_to"] = rel
                if "mentions" in req:
                    content["m.mentions"] = {"user_ids": req["mentions"]}
            ev = HS.add_event(room, {"type": req.get("type", "m.room.message"),
                                     "sender": req["sender"], "content": content})
            return self.reply(200, {"event_id": ev["event_id"], "pos": HS.pos})
        if name == "send_raw":
            room = self.room(req["room_id"])
            raw = (base64.b64decode(req["raw_b64"]) if "raw_b64" in req
                   else req["raw"].encode("utf-8", "surrogatepass"))
            rid = len(HS.raws) + 1
            HS.raws[rid] = raw
            ev = {"type": req.get("type", "m.room.message"), "sender": req["sender"]}
            if req.get("event"):
                ev["_raw"] = rid
                ev["content"] = {}
            else:
                ev["content"] = RAW_MARK % rid
            ev = HS.add_event(room, ev)
            return self.reply(200, {"event_id": ev["event_id"], "pos": HS.pos})
        if name == "status":
            return self.reply(200, {"up_at": HS.up_at, "outages": HS.outages})
        if name == "state":
            room = self.room(req["room_id"])
            ev = HS.add_event(room, {"type": req["type"],
                                     "state_key": req.get("state_key", ""),
                                     "sender": req.get("sender", "@admin:" + HS.server_name),
                                     "content": req["content"]})
            return self.reply(200, {"event_id": ev["event_id"], "pos": HS.pos})
        if name == "invite":
            room = self.room(req["room_id"])
            extra = {"is_direct": True} if req.get("is_direct") else {}
            ev = HS.member_event(room, req["sender"], req["target"], "invite", **extra)
            return self.reply(200, {"event_id": ev["event_id"]})
        if name == "membership":
            room = self.room(req["room_id"])
            ms = req["membership"]
            ms = "leave" if ms == "kick" else ms
            HS.add_user(req["target"], displayname=req.get("displayname"))
            ev = HS.member_event(room, req.get("sender", req["target"]), req["target"], ms,
                                 displayname=req.get("displayname"), reason=req.get("reason"))
            return self.reply(200, {"event_id": ev["event_id"]})
        if name == "script":
            HS.rules.extend(req.get("rules", []))
            return self.reply(200, {"rules": len(HS.rules)})
        if name == "script_clear":
            HS.rules.clear()
            return self.reply(200, {})
        if name == "release":
            HS.release_gen += 1
            HS.cond.notify_all()
            return self.reply(200, {})
        if name == "revoke_token":
            gone = [t for t, v in HS.tokens.items()
                    if t == req.get("token") or v["user"] == req.get("user_id")]
            for t in gone:
                del HS.tokens[t]
            return self.reply(200, {"revoked": len(gone)})
        if name == "events":
            room = self.room(q["room_id"])
            after = int(q.get("after", 0))
            evs = [dict(e, pos=p) for p, e in room.events if p > after]
            for e in evs:  # unsigned.transaction_id is for the sender only
                e.pop("unsigned", None)
            return self.reply(200, {"events": evs, "pos": HS.pos})
        if name == "wait":
            room = self.room(q["room_id"])
            want = int(q.get("count", 1))
            after = int(q.get("after", 0))
            deadline = time.time() + int(q.get("timeout_ms", 10000)) / 1000
            while True:
                evs = [dict(e, pos=p) for p, e in room.events
                       if p > after and e.get("sender") == q.get("sender", e.get("sender"))
                       and e["type"] == q.get("type", "m.room.message")]
                left = deadline - time.time()
                if len(evs) >= want or left <= 0:
                    break
                HS.cond.wait(left)
            return self.reply(200 if len(evs) >= want else 408, {"events": evs})
        if name == "log":
            after = int(q.get("after", -1))
            return self.reply(200, {"requests": [e for e in HS.log if e["n"] > after
                                                 and e["path"] != "/_fake/log"]})
        if name == "claim":
            n = sum(1 for _ in range(int(req.get("count", 1)))
                    if claim_one(req["user_id"], req["device_id"],
                                 req.get("algorithm", "signed_curve25519")))
            HS.cond.notify_all()
            return self.reply(200, {"claimed": n})
        if name == "delete_device":
            # the device signed out: its keys and tokens gone, news for
            # every user sharing a room with its user
            user, dev = req["user_id"], req["device_id"]
            HS.devkeys.pop((user, dev), None)
            for t in [t for t, v in HS.tokens.items() if v == {"user": user, "device": dev}]:
                del HS.tokens[t]
            self.pos_bump_changed(user)
            return self.reply(200, {})
        if name == "lose_keys":
            keys = HS.keys_of(req["user_id"], req["device_id"])
            n = len(keys.otks)
            keys.otks.clear()
            if req.get("fallback"):
                keys.fallback.clear()
            keys.omit_zero = bool(req.get("omit_zero"))
            HS.cond.notify_all()
            return self.reply(200, {"lost": n})
        if name == "keys":
            devs = {}
            for (u, device), keys in HS.devkeys.items():
                if u == q.get("user_id", u):
                    f = keys.fallback.get("signed_curve25519")
                    devs[device] = {"device_keys": keys.device_keys,
                                    "otk_ids": list(keys.otks),
                                    "fallback": f and {"id": f["id"], "key": f["obj"].get("key"),
                                                       "used": f["used"]},
                                    "uploads": keys.uploads}
            return self.reply(200, {"devices": devs})
        if name == "to_device":
            if "messages" in req:
                HS.to_device(req["sender"], req["type"], req["messages"])
                return self.reply(200, {})
            evs = [dict(t[3], to_device=t[2], pos=t[0]) for t in HS.todev
                   if t[1] == q.get("user_id")]
            return self.reply(200, {"events": evs})
        if name == "shutdown":
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return self.reply(200, {})
        raise MatrixError(404, "M_UNRECOGNIZED", "Unknown control request")

    def room(self, room_id):
        room = HS.rooms.get(room_id)
        if room is None:
            raise MatrixError(404, "M_NOT_FOUND", "Unknown room " + room_id)
        return room


def parse_json(body):
    try:
        return json.loads(body.decode("utf-8")) if body else {}
    except (ValueError, UnicodeDecodeError):
        raise MatrixError(400, "M_NOT_JSON", "Content not JSON")


def redact(body):
    try:
        j = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace")[:2000]
    if isinstance(j, dict) and "password" in j:
        j["password"] = "[hidden]"
    if isinstance(j, dict) and isinstance(j.get("auth"), dict) and "password" in j["auth"]:
        j["auth"]["password"] = "[hidden]"  # user-interactive auth
    return j


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global HS, ARGS
    ap = argparse.ArgumentParser(description="fake Matrix homeserver for tests")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--server-name", default="fake.test")
    ap.add_argument("--user", action="append", default=[], help="@u:s=password")
    ap.add_argument("--token", action="append", default=[], help="TOKEN=@u:s")
    ap.add_argument("--txn-scope", choices=["token", "device"], default="token")
    ARGS = ap.parse_args()
    # A full collection over thousands of stored events is a 30 ms pause
    # that would show up as the bot's latency; this process lives minutes.
    gc.disable()
    HS = Homeserver(ARGS.server_name, ARGS.txn_scope)
    fakehs_as.install(HS)
    fakehs_xsign.install(HS)
    for u in ARGS.user:
        name, _, pw = u.partition("=")
        HS.add_user(name, pw or None)
    for t in ARGS.token:
        tok, _, name = t.partition("=")
        HS.add_user(name)
        HS.tokens[tok] = {"user": name, "device": "FAKEDEV"}
    srv = Server(("127.0.0.1", ARGS.port), Handler)  # loopback only, always
    port = srv.server_address[1]
    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, ARGS.port_file)
    print("port %d" % port, flush=True)

    def expire():
        print("fakehs: --max-seconds reached, exiting", file=sys.stderr, flush=True)
        os._exit(3)

    t = threading.Timer(ARGS.max_seconds, expire)
    t.daemon = True
    t.start()
    try:
        while True:
            srv.serve_forever(poll_interval=0.05)
            with HS.cond:
                ms, HS.outage_ms = HS.outage_ms, None
            if ms is None:
                break  # /_fake/shutdown
            # the outage: nothing listens, every connection is cut
            srv.server_close()
            with HS.cond:
                HS.outages += 1
                HS.outage_gen += 1
                HS.cond.notify_all()
                for c in list(HS.conns):
                    try:
                        c.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            time.sleep(ms / 1000)
            srv = Server(("127.0.0.1", port), Handler)
            with HS.cond:
                HS.up_at = time.time()
    except KeyboardInterrupt:
        pass
    srv.server_close()


if __name__ == "__main__":
    main()
